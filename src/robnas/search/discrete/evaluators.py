"""Evaluators: plain, picklable callables ``(arch) -> {objective: value}`` configured from plain data,
and the worker function that runs one.

The search library only needs an evaluator to be such a callable. :class:`BenchmarkEvaluator` (here)
looks the candidate up in a robustness benchmark (tabular mode); the evaluator that
trains and attacks candidates is a job and lives with the jobs
(:class:`robnas.search.discrete.training_evaluator.TrainingEvaluator`). Evaluators carry only strings, numbers and
dicts, so a process pool or a Ray cluster ships them to workers.

Reproducibility: an evaluation's seed is derived from the run's evaluation seed and the
candidate's *canonical key* (:func:`evaluation_seed`), never from the worker or the order of
submission, so the same seed gives the same numbers on every backend.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from robnas.errors import TrainingDivergedError


def evaluation_seed(seed: int, key: str) -> int:
    """A 31-bit seed that depends only on the run's evaluation seed and the canonical key."""
    digest = hashlib.sha256(f"{int(seed)}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFF_FFFF


@dataclass(frozen=True)
class EvaluationOutcome:
    """What a worker sends back: the metrics, or the one-line error of a failed evaluation."""

    metrics: dict[str, float]
    seconds: float
    worker: str
    error: str | None = None


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_evaluation(task: tuple[Any, str]) -> EvaluationOutcome:
    """Evaluate ``(evaluator, arch)`` in whatever process runs this.

    A diverged training is a property of the candidate: a *failed* evaluation, stored with its message
    and told to the strategy as the worst value. Any other error (an architecture missing from a
    table, a bug) stops the search: it propagates to the caller."""
    evaluator, arch = task
    started = time.perf_counter()
    try:
        metrics = evaluator(arch)
    except TrainingDivergedError as exc:
        return EvaluationOutcome({}, time.perf_counter() - started, worker_name(), f"{type(exc).__name__}: {exc}")
    return EvaluationOutcome(metrics, time.perf_counter() - started, worker_name())

