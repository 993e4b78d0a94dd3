"""Evaluators: plain, picklable callables ``(arch) -> {objective: value}`` configured from plain data,
and the worker function that runs one.

The search library only needs an evaluator to be such a callable. :class:`BenchmarkEvaluator` (here)
looks the candidate up in a robustness benchmark (tabular mode); the evaluator that
trains and attacks candidates is a job and lives with the jobs
(:class:`robnas.pipeline.candidates.TrainingEvaluator`). Evaluators carry only strings, numbers and
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
from dataclasses import dataclass, field
from typing import Any

from robnas.errors import TrainingDivergedError


def evaluation_seed(seed: int, key: str) -> int:
    """A 31-bit seed that depends only on the run's evaluation seed and the canonical key."""
    digest = hashlib.sha256(f"{int(seed)}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFF_FFFF


@dataclass(frozen=True)
class BenchmarkEvaluator:
    """Tabular mode: answer from a robustness benchmark (a file or a shipped name) instead of training.

    Objectives are looked up (:mod:`robnas.bench.objectives`: ``clean_error``,
    ``robust_error:<attack>@<eps>``, ``corruption_error:mean``, ``params``, proxies, ...) in a table
    each process builds once (:func:`robnas.bench.lookup.objective_table`). An architecture the
    benchmark did not measure is answered with ``inf`` for every objective (it ranks last); one the
    benchmark does not hold stops the search with a one-line error.
    """

    bench: str                  # benchmark file (absolute path) or shipped name
    space: str
    objectives: tuple[str, ...]  # canonical names (as the table resolves them)
    space_params: dict[str, Any] = field(default_factory=dict)

    def budget(self) -> dict[str, Any]:
        return {"evaluator": "benchmark", "benchmark": self.bench, "objectives": list(self.objectives)}

    def __call__(self, arch: str) -> dict[str, float]:
        from robnas.bench.lookup import objective_table
        from robnas.spaces import get_space

        space = get_space(self.space, **self.space_params)
        table = objective_table(self.bench, self.objectives)
        return table.metrics(table.position(space.key(space.validate(arch))))


@dataclass(frozen=True)
class Outcome:
    """What a worker sends back: the metrics, or the one-line error of a failed evaluation."""

    metrics: dict[str, float]
    seconds: float
    worker: str
    error: str | None = None


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_evaluation(task: tuple[Any, str]) -> Outcome:
    """Evaluate ``(evaluator, arch)`` in whatever process runs this.

    A diverged training is a property of the candidate: a *failed* evaluation, stored with its message
    and told to the strategy as the worst value. Any other error (an architecture missing from a
    table, a bug) stops the search: it propagates to the caller."""
    evaluator, arch = task
    started = time.perf_counter()
    try:
        metrics = evaluator(arch)
    except TrainingDivergedError as exc:
        return Outcome({}, time.perf_counter() - started, worker_name(), f"{type(exc).__name__}: {exc}")
    return Outcome(metrics, time.perf_counter() - started, worker_name())

