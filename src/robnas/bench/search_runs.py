"""Discrete search on a benchmark: the tabular evaluator, and many seeded runs (Jung et al.'s Table 1).

:class:`BenchmarkEvaluator` answers a search's objectives from a benchmark instead of training
(``robnas search --set search.discrete.table=BENCH``).

A :class:`BenchmarkRun` is one strategy searching one benchmark objective for a query budget; it
asks, looks every architecture up (:func:`robnas.bench.lookup.objective_table`, built once per
process) and tells, with no database: a hundred runs of hundreds of queries are seconds of lookups.
It returns the row (position in ``Benchmark.archs()``) of every architecture it asked, in order,
from which the caller reads the best found, anytime curves and any other measurement.

Runs are independent, so they fan out over an execution backend (``inprocess``, ``local``, ``ray``:
:func:`run_all`). Each run's seed is derived from the study's seed and the run's index only
(:func:`run_seed`) -- the same for every strategy, so run ``i`` of random search and of local search
start from the same random generator state -- and a run pins torch to one thread while it runs
(BANANAS trains its predictor with torch), so the results do not depend on the backend, the number
of workers or the order in which runs finish.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from robnas.bench.benchmark import Benchmark
from robnas.bench.lookup import objective_table
from robnas.errors import DataError
from robnas.search.discrete.strategy import _ENUMERATION_LIMIT, create_strategy
from robnas.search.one_call import register_evaluator_adapter
from robnas.spaces import get_space


@dataclass(frozen=True)
class BenchmarkEvaluator:
    """Tabular mode: answer from a robustness benchmark (a file or a shipped name) instead of training.

    Objectives are looked up (:mod:`robnas.bench.lookup`: ``clean_error``,
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
        space = get_space(self.space, **self.space_params)
        table = objective_table(self.bench, self.objectives)
        return table.metrics(table.position(space.key(space.validate(arch))))


def _benchmark_evaluator(thing: Any, space: str, objectives: list[str]) -> BenchmarkEvaluator | None:
    """``robnas.search.run(..., bench)``: an open benchmark answers the search from its table."""
    if not isinstance(thing, Benchmark):
        return None
    evaluator = BenchmarkEvaluator(str(thing.path), space, tuple(objective_table(str(thing.path), objectives).objectives))
    return evaluator


register_evaluator_adapter(_benchmark_evaluator)


def run_seed(seed: int, index: int) -> int:
    """The 31-bit seed of run ``index`` of a study seeded with ``seed``."""
    digest = hashlib.sha256(f"benchmark-run\x00{int(seed)}\x00{int(index)}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFF_FFFF


def space_keys(space: Any) -> dict[str, str] | None:
    """Every canonical key of a genome space small enough to enumerate (-> its first arch), else None."""
    low, high = space.vector_bounds()
    if math.prod(int(h - l + 1) for l, h in zip(low, high)) > _ENUMERATION_LIMIT:
        return None
    out: dict[str, str] = {}
    for v in itertools.product(*(range(int(l), int(h) + 1) for l, h in zip(low, high))):
        arch = space.from_vector(np.asarray(v, dtype=np.int64))
        out.setdefault(space.key(arch), arch)
    return out


def check_coverage(space: Any, table: Any) -> None:
    """A search on a benchmark may propose any architecture of the space: the benchmark must hold all
    of them (checked when the space can be enumerated; otherwise a missing one stops the search)."""
    keys = space_keys(space)
    if keys is None:
        return
    missing = sorted(set(keys) - set(table.positions))
    if missing:
        raise DataError(f"benchmark {table.name} holds {len(keys) - len(missing)} of the {len(keys)} {table.space} "
                        f"architectures (missing e.g. {keys[missing[0]]}); a search on it needs all of them: build "
                        "the whole space")


@dataclass(frozen=True)
class BenchmarkRun:
    """One seeded run: ``strategy`` minimising ``objectives`` on the benchmark ``bench`` for ``queries``."""

    bench: str                          # benchmark file (absolute path) or shipped name
    strategy: str
    objectives: tuple[str, ...]         # canonical names; single-objective strategies minimise the first
    seed: int                           # the study's seed
    index: int                          # the run's index: its seed is run_seed(seed, index)
    queries: int
    params: dict[str, Any] = field(default_factory=dict)
    space_params: dict[str, Any] = field(default_factory=dict)
    replicate: int | None = None         # the replicate the search sees (None: replicate means)


def run_on_benchmark(run: BenchmarkRun) -> list[int]:
    """The benchmark rows of the architectures ``run`` asked, in the order asked (at most ``queries``)."""
    table = objective_table(run.bench, run.objectives, run.replicate)
    space = get_space(table.space, **run.space_params)
    strategy = create_strategy(run.strategy, space, list(table.objectives), run_seed(run.seed, run.index), **run.params)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rows: list[int] = []
    try:
        while len(rows) < run.queries and not strategy.finished:
            for arch in strategy.ask()[: run.queries - len(rows)]:
                row = table.position(space.key(arch))
                rows.append(row)
                strategy.tell(arch, table.metrics(row))
    finally:
        torch.set_num_threads(threads)
    return rows


def run_all(runs: Iterable[BenchmarkRun], backend: Any, progress: Any = None) -> Iterator[tuple[BenchmarkRun, list[int]]]:
    """``(run, rows)`` for every run, in completion order, on ``backend`` (``imap_unordered``)."""
    runs = list(runs)
    for index, rows in backend.imap_unordered(run_on_benchmark, runs):
        if progress is not None:
            progress(runs[index])
        yield runs[index], rows
