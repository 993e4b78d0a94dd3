"""Robustness benchmarks over a whole search space: build, store, query, import and export.

``robnas.bench.open(path_or_name)`` opens a benchmark file (or a benchmark shipped with robnas, by
name, e.g. ``digits-nb201``) as a :class:`Benchmark`: ``archs()``, ``query(key, measure, eps)``,
``lookup`` / ``record`` by arch string, canonical key or NAS-Bench-201 id. Files are built by
``robnas bench build`` and imported from the published layout of Jung et al. by ``robnas bench
import`` (:mod:`robnas.bench.layout`).
"""

from robnas.bench import search_runs as _search_runs  # noqa: F401  (lets robnas.search.run take a Benchmark)
from robnas.bench.benchmark import Benchmark
from robnas.bench.shipped import open_benchmark as open  # noqa: A001  (the package's verb: robnas.bench.open)
from robnas.bench.shipped import shipped_names

__all__ = ["Benchmark", "open", "shipped_names"]
