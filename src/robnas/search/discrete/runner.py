"""The ask -> cache -> evaluate -> record -> tell loop of a discrete search.

Each round the strategy proposes a batch; every proposal is looked up in the results database by
its canonical key (a hit is read, never retrained), the misses run on the execution backend, each
finished evaluation is written to the database the moment it arrives (so ``kill -9`` loses only
what was still running), and only then is the whole batch told to the strategy, in the order it was
asked. Strategies are deterministic given their seed and what they are told, so resuming is
re-creating the strategy and running this loop again: the database answers every evaluation that
had completed, the strategy retraces its steps, and the search continues where it stopped.

Budget: a number of evaluations (architectures told, cache hits included, so a resumed search ends
where an uninterrupted one would) and/or wall time (this invocation plus earlier ones). When the
wall time runs out mid-batch, nothing more is submitted, the running evaluations are recorded, and
the incomplete batch is not told.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from robnas.backends import Backend
from robnas.search.discrete.evaluators import run_evaluation
from robnas.store.results_db import Record, ResultsDB, Slot


@dataclass(frozen=True)
class SearchBudget:
    evaluations: int = 0        # architectures to tell the strategy; 0 = until the strategy finishes
    seconds: float = 0.0        # wall time over all invocations; 0 = no limit


@dataclass
class Told:
    """One architecture as the strategy was told about it."""

    arch: str
    key: str
    metrics: dict[str, float]
    status: str                 # done | failed
    cached: bool                # answered by the database (an earlier invocation, another run, a table)


@dataclass
class SearchStats:
    evaluations: int = 0        # told to the strategy
    computed: int = 0           # evaluated by this invocation
    cache_hits: int = 0         # answered by the database
    failed: int = 0
    eval_seconds: float = 0.0   # summed evaluation time of this invocation (workers' clocks)
    wall_seconds: float = 0.0   # this invocation plus earlier ones
    stopped: str = ""           # why the loop ended


@dataclass
class SearchRunner:
    strategy: Any
    space: Any
    evaluator: Callable[[str], dict[str, float]]
    db: ResultsDB
    slot: Slot
    backend: Backend
    objectives: list[str]
    budget: SearchBudget = field(default_factory=SearchBudget)
    run_name: str | None = None
    log: Callable[[str], None] = lambda message: None
    quiet: bool = True
    elapsed_before: float = 0.0
    on_batch: Callable[[SearchStats], None] | None = None
    history: list[Told] = field(default_factory=list)
    stats: SearchStats = field(default_factory=SearchStats)

    def _metrics(self, record: Record) -> dict[str, float]:
        # A failed candidate (diverged training) is the worst possible one for every objective.
        if record.status != "done":
            return {name: math.inf for name in self.objectives}
        return {name: record.metrics[name] for name in self.objectives}

    def _out_of_time(self, started: float) -> bool:
        return self.budget.seconds > 0 and self.elapsed_before + time.perf_counter() - started >= self.budget.seconds

    def _remaining(self) -> int | None:
        return None if self.budget.evaluations <= 0 else self.budget.evaluations - self.stats.evaluations

    def run(self) -> SearchStats:
        started = time.perf_counter()
        bar = tqdm(total=self.budget.evaluations or None, desc="search", unit="eval", disable=self.quiet, leave=False)
        try:
            while not self.stats.stopped:
                self.stats.stopped = self._round(started, bar)
                self.stats.wall_seconds = self.elapsed_before + time.perf_counter() - started
                if self.on_batch is not None:
                    self.on_batch(self.stats)
        finally:
            bar.close()
        return self.stats

    def cost(self) -> dict[str, Any]:
        """What the search cost, counted over every invocation of this run from the database: evaluations
        (computed by this run, answered by the database, failed), the mean evaluation time, the wall time,
        why it stopped, this invocation's share and the backend."""
        keys = [t.key for t in self.history]
        records = self.db.get_many(self.slot, keys)
        ours = [records[k] for k in dict.fromkeys(keys) if k in records and records[k].run == self.run_name]
        seconds = [r.seconds for r in ours if r.seconds is not None]
        return {
            "evaluations": len(keys), "computed": len(ours), "cache_hits": len(keys) - len(ours),
            "failed": sum(t.status != "done" for t in self.history),
            "mean_eval_seconds": statistics.fmean(seconds) if seconds else None,
            "wall_seconds": self.stats.wall_seconds, "stopped": self.stats.stopped,
            "this_invocation": {"computed": self.stats.computed, "answered_by_database": self.stats.cache_hits,
                                "eval_seconds": self.stats.eval_seconds},
            "backend": self.backend.describe(),
        }

    def best(self, top_k: int) -> dict[str, Any]:
        """The strategy's best architectures: its Pareto set when it optimises several objectives, else the
        ``top_k`` by the first objective; each with its canonical key and metrics."""
        pareto = bool(getattr(self.strategy, "multi_objective", False)) and len(self.objectives) > 1
        chosen = self.strategy.best() if pareto else self.strategy.best()[:top_k]
        return {"objectives": self.objectives,
                "kind": "pareto set" if pareto else f"top {top_k} by {self.objectives[0]}",
                "architectures": [{"arch": arch, "key": self.space.key(arch), "metrics": metrics}
                                  for arch, metrics in chosen]}

    def _round(self, started: float, bar: Any) -> str:
        """One ask / evaluate / tell round; a non-empty return value is why the search stops."""
        remaining = self._remaining()
        if remaining is not None and remaining <= 0:
            return "evaluation budget spent"
        if getattr(self.strategy, "finished", False):
            return "strategy finished"
        if self._out_of_time(started):
            return "wall-time budget spent"
        batch = list(self.strategy.ask())
        if not batch:
            return "strategy proposed nothing"
        batch = batch[:remaining] if remaining is not None else batch
        keys = [self.space.key(arch) for arch in batch]
        answers = {k: r for k, r in self.db.get_many(self.slot, keys).items() if r.status in ("done", "failed")}
        cached = set(answers)
        todo = list(dict((k, a) for k, a in zip(keys, batch) if k not in answers).items())
        if todo:
            self.db.add_pending(self.slot, todo, run=self.run_name)
        submitted: list[tuple[str, str]] = []

        def tasks() -> Iterator[tuple[Any, str]]:
            for key, arch in todo:
                if self._out_of_time(started):
                    return
                record = self.db.start(self.slot, key, arch, run=self.run_name)
                if record.done:  # another search sharing the database finished it meanwhile
                    answers[key] = record
                    cached.add(key)
                    continue
                submitted.append((key, arch))
                yield self.evaluator, arch

        for index, outcome in self.backend.imap_unordered(run_evaluation, tasks()):
            key, arch = submitted[index]
            record = self.db.finish(self.slot, key, arch, outcome.metrics, seconds=outcome.seconds,
                                    worker=outcome.worker, run=self.run_name, error=outcome.error)
            answers[key] = record
            self.stats.computed += 1
            self.stats.eval_seconds += outcome.seconds
            shown = ", ".join(f"{k}={v:.4g}" for k, v in record.metrics.items()) or record.error
            self.log(f"evaluated {arch} [{outcome.seconds:.1f}s on {outcome.worker}]: {shown}")
        if any(key not in answers for key in keys):
            return "wall-time budget spent"
        for arch, key in zip(batch, keys):
            record = answers[key]
            metrics = self._metrics(record)
            self.strategy.tell(arch, metrics)
            self.history.append(Told(arch, key, metrics, record.status, key in cached))
            self.stats.evaluations += 1
            self.stats.cache_hits += key in cached
            self.stats.failed += record.status != "done"
            bar.update(1)
        bar.set_postfix(computed=self.stats.computed, cached=self.stats.cache_hits)
        return ""
