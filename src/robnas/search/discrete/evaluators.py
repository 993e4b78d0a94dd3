"""Evaluators: plain, picklable callables ``(arch) -> {objective: value}`` configured from plain data,
and the worker function that runs one.

The search library only needs an evaluator to be such a callable. :class:`TableEvaluator` (here)
looks the candidate up in a benchmark table imported into the results database; the evaluator that
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

from robnas.errors import DataError, TrainingDivergedError
from robnas.store.results_db import Slot, budget_key


def evaluation_seed(seed: int, key: str) -> int:
    """A 31-bit seed that depends only on the run's evaluation seed and the canonical key."""
    digest = hashlib.sha256(f"{int(seed)}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFF_FFFF


# Per-process cache: a worker reads a table once, not once per candidate.
_TABLES: dict[str, dict[str, dict[str, float]]] = {}


@dataclass(frozen=True)
class TableEvaluator:
    """Answer from benchmark-table rows imported into the results database at ``db`` (tabular mode)."""

    db: str
    space: str
    dataset: str
    table: str                  # the table's name: its rows' budget is {"table": table}
    objectives: tuple[str, ...]
    space_params: dict[str, Any] = field(default_factory=dict)

    @property
    def slot(self) -> Slot:
        return Slot(self.space, self.dataset, budget_key({"table": self.table}), 0)

    def budget(self) -> dict[str, Any]:
        return {"evaluator": "table", "table": self.table, "objectives": list(self.objectives)}

    def rows(self) -> dict[str, dict[str, float]]:
        """``{key: metrics}`` of the table (read once per process)."""
        from robnas.store.results_db import ResultsDB

        cache_key = budget_key({"db": self.db, "slot": [self.space, self.dataset, self.table]})
        if cache_key not in _TABLES:
            with ResultsDB(self.db, readonly=True) as db:
                _TABLES[cache_key] = {r.key: r.metrics for r in db.records(
                    space=self.slot.space, dataset=self.slot.dataset, budget=self.slot.budget, status="done")}
        return _TABLES[cache_key]

    def __call__(self, arch: str) -> dict[str, float]:
        from robnas.spaces import get_space

        space = get_space(self.space, **self.space_params)
        key = space.key(space.validate(arch))
        rows = self.rows()
        if key not in rows:
            raise DataError(f"architecture {arch} (key {key}) is not in benchmark table {self.table} "
                            f"({len(rows)} {self.space} rows for {self.dataset}); search a space the table covers")
        metrics = rows[key]
        missing = [o for o in self.objectives if o not in metrics]
        if missing:
            raise DataError(f"benchmark table {self.table} has no {', '.join(missing)} for {arch}; it has "
                            f"{', '.join(sorted(metrics))}")
        return {o: metrics[o] for o in self.objectives}


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

