"""The benchmark file: one SQLite database per benchmark, one transaction per architecture.

Tables::

    meta      name -> JSON value: format, robnas version, space, dataset, recipe (+ its TOML text),
              protocol, the result keys' axes (radii / severities), the build records
    archs     one row per architecture (its canonical key): representative arch string, NAS-Bench-201
              id, status, seed, params, FLOPs, train / eval seconds, info (JSON)
    measures  (result key, measure, arch row) -> one little-endian array: accuracy (a fraction in
              [0, 1], as the published robustness dataset stores it) and confidence per radius or
              severity (one value for ``clean`` and for proxies), confusion matrices as int64

A build writes an architecture's row and all its measures in ONE transaction, so ``kill -9`` at any
moment leaves every architecture either wholly present or absent, and ``--resume`` redoes exactly
the absent ones. Reading is columnar: a query pulls one (key, measure) column for every
architecture with one indexed scan and decodes it with numpy, never the whole file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robnas.errors import DataError
from robnas.store.sqlite import connect, transaction

FORMAT = 1
KIND = "benchmark file"
MEASURES = ("accuracy", "confidence", "cm")
_DTYPES = {"f8": np.dtype("<f8"), "i8": np.dtype("<i8")}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS archs (
    row           INTEGER PRIMARY KEY,
    key           TEXT NOT NULL UNIQUE,
    arch          TEXT NOT NULL,
    ident         INTEGER,
    status        TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    error         TEXT,
    seed          INTEGER,
    params        INTEGER,
    flops         INTEGER,
    train_seconds REAL,
    eval_seconds  REAL,
    info          TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS measures (
    key     TEXT NOT NULL,
    measure TEXT NOT NULL,
    row     INTEGER NOT NULL,
    dtype   TEXT NOT NULL,
    shape   TEXT NOT NULL,
    value   BLOB NOT NULL,
    PRIMARY KEY (key, measure, row)
) WITHOUT ROWID;
"""


@dataclass
class ArchResult:
    """Everything measured for one architecture: the unit a build writes in one transaction."""

    key: str
    arch: str
    ident: int | None = None
    status: str = "done"
    error: str | None = None
    seed: int | None = None
    params: int | None = None
    flops: int | None = None
    train_seconds: float | None = None
    eval_seconds: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    # (result key, measure) -> array; accuracy as a fraction in [0, 1]
    measures: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)


def encode(array: Any) -> tuple[str, str, bytes]:
    """(dtype, shape, bytes) of a numeric array: integers as int64, everything else as float64."""
    a = np.asarray(array)
    dtype = "i8" if np.issubdtype(a.dtype, np.integer) or a.dtype == bool else "f8"
    a = np.array(a, dtype=_DTYPES[dtype], order="C")  # keeps 0-d scalars 0-d (ascontiguousarray would not)
    return dtype, json.dumps(list(a.shape)), a.tobytes()


def decode(dtype: str, shape: str, blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=_DTYPES[dtype]).reshape(json.loads(shape))


class BenchmarkFile:
    """A connection to one benchmark file; writable for builds and imports, read-only otherwise."""

    def __init__(self, path: str | Path, readonly: bool = True, immutable: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.conn = connect(self.path, kind=KIND, schema=_SCHEMA, version=FORMAT, readonly=readonly,
                            immutable=immutable)
        try:
            self.conn.execute("SELECT 1 FROM archs LIMIT 1").fetchall()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise DataError(f"{self.path} is not a robnas {KIND} ({exc}); pass a file made by `robnas bench "
                            "build` or `robnas bench import`") from exc

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "BenchmarkFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- meta ----------------------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        rows = self.conn.execute("SELECT name, value FROM meta WHERE name != 'schema_version'").fetchall()
        return {name: json.loads(value) for name, value in rows}

    def set_meta(self, values: Mapping[str, Any]) -> None:
        with transaction(self.conn):
            for name, value in values.items():
                self.conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                                  (name, json.dumps(value, sort_keys=True)))

    # --- architectures -------------------------------------------------------------------------

    def done_keys(self) -> set[str]:
        """Keys with a row (done or failed: a failed architecture is a result too, not retried)."""
        return {k for (k,) in self.conn.execute("SELECT key FROM archs")}

    def _insert(self, result: ArchResult) -> int:
        cur = self.conn.execute(
            "INSERT INTO archs (key, arch, ident, status, error, seed, params, flops, train_seconds, "
            "eval_seconds, info) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (result.key, result.arch, result.ident, result.status, result.error, result.seed, result.params,
             result.flops, result.train_seconds, result.eval_seconds, json.dumps(result.info, sort_keys=True)))
        row = int(cur.lastrowid)
        self._put_measures(row, result.measures)
        return row

    def _put_measures(self, row: int, measures: Mapping[tuple[str, str], Any]) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO measures (key, measure, row, dtype, shape, value) VALUES (?, ?, ?, ?, ?, ?)",
            [(key, measure, row, *encode(value)) for (key, measure), value in measures.items()])

    def add(self, result: ArchResult) -> int:
        """Write one architecture and all its measures in one transaction; returns its row."""
        with transaction(self.conn):
            return self._insert(result)

    def add_many(self, results: Iterable[ArchResult]) -> int:
        """Several architectures in one transaction (imports: all or nothing)."""
        with transaction(self.conn):
            return sum(1 for result in results if self._insert(result) >= 0)

    def add_measures(self, row: int, measures: Mapping[tuple[str, str], Any]) -> None:
        """Measures added to an existing architecture later (proxies), in one transaction."""
        with transaction(self.conn):
            self._put_measures(row, measures)

    def arch_rows(self) -> list[dict[str, Any]]:
        cols = ("row", "key", "arch", "ident", "status", "error", "seed", "params", "flops", "train_seconds",
                "eval_seconds", "info")
        rows = self.conn.execute(f"SELECT {', '.join(cols)} FROM archs ORDER BY row").fetchall()
        out = []
        for values in rows:
            record = dict(zip(cols, values))
            record["info"] = json.loads(record["info"])
            out.append(record)
        return out

    def column(self, key: str, measure: str) -> dict[int, np.ndarray]:
        """``{arch row: array}`` of one result key and measure (one indexed scan)."""
        rows = self.conn.execute("SELECT row, dtype, shape, value FROM measures WHERE key = ? AND measure = ?",
                                 (key, measure)).fetchall()
        return {row: decode(dtype, shape, blob) for row, dtype, shape, blob in rows}

    def measures_of(self, row: int) -> dict[tuple[str, str], np.ndarray]:
        rows = self.conn.execute("SELECT key, measure, dtype, shape, value FROM measures WHERE row = ?",
                                 (row,)).fetchall()
        return {(key, measure): decode(dtype, shape, blob) for key, measure, dtype, shape, blob in rows}

    def result_keys(self) -> list[tuple[str, str]]:
        return [tuple(r) for r in self.conn.execute("SELECT DISTINCT key, measure FROM measures ORDER BY key, measure")]

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the main file (before shipping or compressing it)."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def check_identity(meta: Mapping[str, Any], wanted: Mapping[str, Any], path: Path) -> None:
    """A build resuming into an existing file must describe the same benchmark (same robnas too)."""
    changed = [name for name, value in wanted.items() if meta.get(name) != value]
    if changed:
        raise DataError(f"{path} is a different benchmark ({', '.join(changed)} differ); use the same settings "
                        "to resume it, or build into a new file")

