"""The benchmark file: one SQLite database per benchmark, one transaction per architecture.

Tables::

    meta      name -> JSON value: format, robnas version, space, dataset, recipe (+ its TOML text),
              protocol, the result keys' axes (radii / severities), the build records
    archs     one row per architecture (its canonical key): representative arch string, NAS-Bench-201
              id, status, seed, params, FLOPs, train / eval seconds, info (JSON)
    measures  (result key, measure, arch row) -> one little-endian array: accuracy (a fraction in
              [0, 1], as the published robustness dataset stores it) and confidence per radius or
              severity (one value for ``clean`` and for proxies), confusion matrices as int64

    columns   (result key, measure) -> the packed column: every architecture's value in one blob

A build writes an architecture's row and all its measures in ONE transaction, so ``kill -9`` at any
moment leaves every architecture either wholly present or absent, and ``--resume`` redoes exactly
the absent ones. When a build (or an import) finishes, :meth:`BenchmarkFile.pack` moves each
(key, measure) into one packed column, one transaction per column, so reading a column is one row
and one numpy decode; values written later (proxies added to a finished benchmark) stay in
``measures`` until the next pack, and a read merges both. Integers (confusion matrices) are stored
in the smallest signed width that holds them.
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
_DTYPES = {"f8": np.dtype("<f8"), "i1": np.dtype("<i1"), "i2": np.dtype("<i2"), "i4": np.dtype("<i4"),
           "i8": np.dtype("<i8")}
_INTS = ("i1", "i2", "i4", "i8")

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
CREATE TABLE IF NOT EXISTS columns (
    key     TEXT NOT NULL,
    measure TEXT NOT NULL,
    dtype   TEXT NOT NULL,
    shape   TEXT NOT NULL,
    rows    BLOB NOT NULL,
    value   BLOB NOT NULL,
    PRIMARY KEY (key, measure)
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


def _int_width(a: np.ndarray) -> str:
    low, high = (int(a.min()), int(a.max())) if a.size else (0, 0)
    return next(w for w in _INTS if np.iinfo(_DTYPES[w]).min <= low and high <= np.iinfo(_DTYPES[w]).max)


def encode(array: Any) -> tuple[str, str, bytes]:
    """(dtype, shape, bytes) of a numeric array: integers in the smallest width that holds them,
    everything else as float64."""
    a = np.asarray(array)
    dtype = _int_width(a) if np.issubdtype(a.dtype, np.integer) or a.dtype == bool else "f8"
    a = np.array(a, dtype=_DTYPES[dtype], order="C")  # keeps 0-d scalars 0-d (ascontiguousarray would not)
    return dtype, json.dumps(list(a.shape)), a.tobytes()


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

    _ARCH_COLUMNS = ("row", "key", "arch", "ident", "status", "error", "seed", "params", "flops", "train_seconds",
                     "eval_seconds", "info")

    def arch_rows(self, columns: tuple[str, ...] = ("row", "key", "arch", "ident", "status")) -> list[tuple]:
        """The given columns of every architecture, in row order (the order of every query)."""
        unknown = set(columns) - set(self._ARCH_COLUMNS)
        if unknown:
            raise ValueError(f"no architecture column {sorted(unknown)}")
        return self.conn.execute(f"SELECT {', '.join(columns)} FROM archs ORDER BY row").fetchall()

    def arch_row(self, row: int) -> dict[str, Any]:
        values = self.conn.execute(f"SELECT {', '.join(self._ARCH_COLUMNS)} FROM archs WHERE row = ?", (row,)).fetchone()
        record = dict(zip(self._ARCH_COLUMNS, values))
        record["info"] = json.loads(record["info"])
        return record

    def _unpacked(self, key: str, measure: str) -> tuple[np.ndarray, np.ndarray] | None:
        rows = self.conn.execute("SELECT row, dtype, shape, value FROM measures WHERE key = ? AND measure = ?",
                                 (key, measure)).fetchall()
        if not rows:
            return None
        shapes = {shape for _, _, shape, _ in rows}
        if len(shapes) != 1:
            raise DataError(f"{self.path}: the {key!r} {measure!r} values have different shapes {sorted(shapes)}; "
                            "the file was edited or written by a broken build")
        shape = json.loads(shapes.pop())
        dtypes = {dtype for _, dtype, _, _ in rows}
        if len(dtypes) == 1:  # the common case: one join, one decode
            values = np.frombuffer(b"".join(r[3] for r in rows), dtype=_DTYPES[dtypes.pop()])
        else:  # integer columns whose rows chose different widths
            values = np.concatenate([np.frombuffer(r[3], dtype=_DTYPES[r[1]]).astype(np.int64) for r in rows])
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)), values.reshape(len(rows), *shape)

    def _packed(self, key: str, measure: str) -> tuple[np.ndarray, np.ndarray] | None:
        found = self.conn.execute("SELECT dtype, shape, rows, value FROM columns WHERE key = ? AND measure = ?",
                                  (key, measure)).fetchone()
        if found is None:
            return None
        dtype, shape, rows, value = found
        row_ids = np.frombuffer(rows, dtype=np.int64)
        return row_ids, np.frombuffer(value, dtype=_DTYPES[dtype]).reshape(len(row_ids), *json.loads(shape))

    def column(self, key: str, measure: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(arch rows, stacked values) of one result key and measure, or None if nobody has it:
        the packed column merged with values written since it was packed."""
        parts = [p for p in (self._packed(key, measure), self._unpacked(key, measure)) if p is not None]
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0]
        if parts[0][1].shape[1:] != parts[1][1].shape[1:]:
            raise DataError(f"{self.path}: the {key!r} {measure!r} values have different shapes; the file was "
                            "edited or written by a broken build")
        return np.concatenate([parts[0][0], parts[1][0]]), np.concatenate([parts[0][1], parts[1][1]])

    def pack(self) -> int:
        """Move every (key, measure) of ``measures`` into its packed column (one transaction each)."""
        pending = self.conn.execute("SELECT DISTINCT key, measure FROM measures").fetchall()
        for key, measure in pending:
            with transaction(self.conn):
                rows, values = self.column(key, measure)  # type: ignore[misc]
                order = np.argsort(rows, kind="stable")
                dtype, shape, blob = encode(values[order])
                self.conn.execute("INSERT OR REPLACE INTO columns (key, measure, dtype, shape, rows, value) "
                                  "VALUES (?, ?, ?, ?, ?, ?)", (key, measure, dtype, json.dumps(json.loads(shape)[1:]),
                                                                 rows[order].astype("<i8").tobytes(), blob))
                self.conn.execute("DELETE FROM measures WHERE key = ? AND measure = ?", (key, measure))
        return len(pending)

    def measures_of(self, row: int) -> dict[tuple[str, str], np.ndarray]:
        """Every measure of one architecture (from the packed columns and the unpacked rows)."""
        out = {}
        for key, measure in self.result_keys():
            found = self.column(key, measure)
            if found is not None and row in found[0]:
                out[(key, measure)] = found[1][int(np.flatnonzero(found[0] == row)[0])]
        return out

    def results(self) -> list[ArchResult]:
        """Every architecture with all its measures, in row order (each column decoded once)."""
        rows = self.arch_rows(self._ARCH_COLUMNS)
        by_row = {row[0]: ArchResult(*row[1:11], info=json.loads(row[11])) for row in rows}
        for key, measure in self.result_keys():
            found = self.column(key, measure)
            assert found is not None  # listed by result_keys
            for row, value in zip(found[0].tolist(), found[1]):
                by_row[row].measures[(key, measure)] = value
        return [by_row[row[0]] for row in rows]

    def result_keys(self) -> list[tuple[str, str]]:
        keys = self.conn.execute("SELECT key, measure FROM columns UNION SELECT DISTINCT key, measure FROM measures "
                                 "ORDER BY 1, 2").fetchall()
        return [(k, m) for k, m in keys]

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the main file and drop free pages (before shipping or compressing)."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.execute("VACUUM")


def check_identity(meta: Mapping[str, Any], wanted: Mapping[str, Any], path: Path) -> None:
    """A build resuming into an existing file must describe the same benchmark (same robnas too)."""
    changed = [name for name, value in wanted.items() if meta.get(name) != value]
    if changed:
        raise DataError(f"{path} is a different benchmark ({', '.join(changed)} differ); use the same settings "
                        "to resume it, or build into a new file")

