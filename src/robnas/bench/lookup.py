"""Fast lookups of benchmark objectives: one table per process, no SQLite round trip per query.

:func:`objective_table` opens a benchmark once per process (per file version and set of
objectives), resolves the objectives (:mod:`robnas.bench.objectives`) into one matrix and maps every
canonical key to its row, so that a search asking hundreds of architectures in each of a hundred
runs pays a dictionary lookup and a row read per query. Evaluators and NAS runs carry only the
benchmark's path or shipped name and the objective names (plain, picklable data); each worker
process builds its own table on first use.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robnas.bench.objectives import resolve
from robnas.errors import DataError


@dataclass(frozen=True)
class ObjectiveTable:
    """Minimised objective values of every architecture of one benchmark."""

    name: str                       # the benchmark's name
    space: str
    dataset: str
    objectives: tuple[str, ...]     # canonical names, in the order asked
    archs: tuple[str, ...]          # representative arch strings, row order
    positions: dict[str, int]       # canonical key -> row
    values: np.ndarray              # (architectures, objectives), +inf where not measured

    def position(self, key: str) -> int:
        try:
            return self.positions[key]
        except KeyError:
            raise DataError(f"architecture key {key} is not in benchmark {self.name} ({len(self.archs)} "
                            f"{self.space} architectures); search a space the benchmark covers wholly") from None

    def metrics(self, row: int) -> dict[str, float]:
        return dict(zip(self.objectives, map(float, self.values[row])))


_TABLES: dict[tuple[str, tuple[str, ...], int], ObjectiveTable] = {}


def _version(source: str) -> int:
    """A file's modification time (a rebuilt file at the same path is re-read); 0 for shipped names."""
    try:
        return Path(source).stat().st_mtime_ns
    except OSError:
        return 0


def objective_table(source: str | os.PathLike[str], objectives: Sequence[str]) -> ObjectiveTable:
    """The (cached) table of ``objectives`` over the benchmark at ``source`` (a file or a shipped name)."""
    import robnas.bench

    text = str(source)
    cache_key = (text, tuple(objectives), _version(text))
    table = _TABLES.get(cache_key)
    if table is None:
        with robnas.bench.open(text) as bench:
            resolved = [resolve(bench, spec) for spec in objectives]
            table = ObjectiveTable(
                name=bench.name, space=bench.space, dataset=bench.dataset,
                objectives=tuple(o.name for o in resolved), archs=tuple(bench.archs()),
                positions={k: i for i, k in enumerate(bench.keys())},
                values=np.stack([o.values for o in resolved], axis=1) if resolved else np.zeros((len(bench), 0)))
        _TABLES[cache_key] = table
    return table
