"""Merging benchmark files built as shards (``--shard K/M``) into one (``robnas bench merge OUT PART...``).

Why: a whole-space build may outlast one machine session or be spread over machines; each shard
is a whole, resumable benchmark of every M-th architecture, and the merge is the benchmark of
their union. Every part must describe the same benchmark (space, dataset, recipe, protocol, seed,
proxies, robnas format); a run (architecture, replicate) found in two parts must have the same
measures in both, so parts may also hold different replicates of the same architectures.
The output is written to a temporary file and renamed into place when complete, then packed into
columns and vacuumed, ready to query or ship.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from robnas.bench.builder import IDENTITY_FIELDS
from robnas.bench.store import ArchResult, BenchmarkFile
from robnas.errors import DataError, InvalidValueError
from robnas.store.atomic import atomic_path


def _same(a: ArchResult, b: ArchResult) -> bool:
    return a.measures.keys() == b.measures.keys() and all(
        np.array_equal(a.measures[k], b.measures[k], equal_nan=True) for k in a.measures)


def merge(out: Path, parts: list[Path]) -> dict[str, Any]:
    """Merge ``parts`` into the new file ``out``; returns its meta."""
    if out.exists():
        raise InvalidValueError(f"{out} exists; merge into a new file")
    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise DataError(f"benchmark part {missing[0]} does not exist; pass the files the shard builds wrote")
    metas, results = [], {}
    for part in parts:
        with BenchmarkFile(part, readonly=True) as bench:
            meta = bench.meta()
            if metas:
                changed = [f for f in (*IDENTITY_FIELDS, "axes") if meta.get(f) != metas[0].get(f)]
                if changed:
                    raise DataError(f"{part} is a different benchmark from {parts[0]} ({', '.join(changed)} "
                                    "differ); merge only shards of one build")
            metas.append(meta)
            for result in bench.results():
                known = results.setdefault((result.key, result.replicate), result)
                if known is not result and not _same(known, result):
                    raise DataError(f"architecture {result.arch} (replicate {result.replicate}) has different "
                                    "measures in two parts; rebuild it with --only in one of them")
    merged = {**metas[0], "builds": [b for m in metas for b in m.get("builds", [])],
              "replicates": max(int(m.get("replicates", 1)) for m in metas),
              "merged": {"parts": [p.name for p in parts], "at": time.time()}}
    with atomic_path(out) as tmp:
        with BenchmarkFile(tmp, readonly=False) as bench:
            bench.set_meta(merged)
            bench.add_many(sorted(results.values(), key=lambda r: (r.ident is None, r.ident, r.key, r.replicate)))
            bench.pack()
            bench.checkpoint()
    return merged
