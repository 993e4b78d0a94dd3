"""The benchmark file: one SQLite database per benchmark, one transaction per architecture and replicate.

Tables (format 2)::

    meta                name -> JSON value: format, robnas version, space, dataset, recipe (+ its TOML
                        text), protocol, the result keys' axes (radii / severities), replicates, the
                        build records
    archs               one row per architecture (its canonical key): representative arch string,
                        NAS-Bench-201 id, params, FLOPs, info (JSON) of its first run
    runs                one row per (architecture, replicate): status, seed, train / eval seconds, info
    replicate_measures  (result key, measure, replicate, arch row) -> one little-endian array: accuracy (a
                        fraction in [0, 1], as the published robustness dataset stores it) and confidence
                        per radius or severity (one value for ``clean`` and for proxies), confusion matrices
                        as int64, and ``correct``: which test points were classified correctly, one bit per
                        point (``numpy.packbits``, little bit order), a row of bytes per radius / severity
    replicate_columns   (result key, measure, replicate) -> the packed column: every architecture's value

A replicate is one training and evaluation of an architecture with its own seed (replicate ``r`` uses
the seed of run seed + r; the data and the test points are the same for every replicate), so the
spread between replicates is the noise any ranking of the benchmark carries.

A build writes one (architecture, replicate) and all its measures in ONE transaction, so ``kill -9``
at any moment leaves every run either wholly present or absent, and ``--resume`` redoes exactly the
absent ones. When a build (or an import) finishes, :meth:`BenchmarkFile.pack` moves each (key,
measure, replicate) into one packed column, so reading a column is one row and one numpy decode;
values written later stay in ``replicate_measures`` until the next pack, and a read merges both.
Integers are stored in the smallest signed width that holds them, bit rows as unsigned bytes.

Format 1 (one replicate, no ``runs`` table: the shipped ``digits-nb201``) is read through temporary
views that present it as format 2 with replicate 0; it is never written.
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
from robnas.store.sqlite import connect, schema_version, transaction

FORMAT = 2
READABLE_FORMATS = (1, 2)
KIND = "benchmark file"
MEASURES = ("accuracy", "confidence", "cm")
#: The per-point measure: which test points were classified correctly, packed bits (little bit order).
POINTS = "correct"
_DTYPES = {"f8": np.dtype("<f8"), "i1": np.dtype("<i1"), "i2": np.dtype("<i2"), "i4": np.dtype("<i4"),
           "i8": np.dtype("<i8"), "u1": np.dtype("u1")}
_INTS = ("i1", "i2", "i4", "i8")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS archs (
    row           INTEGER PRIMARY KEY,
    key           TEXT NOT NULL UNIQUE,
    arch          TEXT NOT NULL,
    ident         INTEGER,
    params        INTEGER,
    flops         INTEGER,
    info          TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS runs (
    row           INTEGER NOT NULL,
    replicate     INTEGER NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    error         TEXT,
    seed          INTEGER,
    train_seconds REAL,
    eval_seconds  REAL,
    info          TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (row, replicate)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS replicate_measures (
    key       TEXT NOT NULL,
    measure   TEXT NOT NULL,
    replicate INTEGER NOT NULL,
    row       INTEGER NOT NULL,
    dtype     TEXT NOT NULL,
    shape     TEXT NOT NULL,
    value     BLOB NOT NULL,
    PRIMARY KEY (key, measure, replicate, row)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS replicate_columns (
    key       TEXT NOT NULL,
    measure   TEXT NOT NULL,
    replicate INTEGER NOT NULL,
    dtype     TEXT NOT NULL,
    shape     TEXT NOT NULL,
    rows      BLOB NOT NULL,
    value     BLOB NOT NULL,
    PRIMARY KEY (key, measure, replicate)
) WITHOUT ROWID;
"""

# Format 1 kept status, seed and timings in `archs` and had no replicate: these read-only views show it
# as format 2 with every value at replicate 0 (temporary: nothing is written into the file).
_FORMAT_1_VIEWS = (
    "CREATE TEMP VIEW runs AS SELECT row, 0 AS replicate, status, error, seed, train_seconds, eval_seconds, info "
    "FROM main.archs",
    "CREATE TEMP VIEW replicate_measures AS SELECT key, measure, 0 AS replicate, row, dtype, shape, value "
    "FROM main.measures",
    "CREATE TEMP VIEW replicate_columns AS SELECT key, measure, 0 AS replicate, dtype, shape, rows, value "
    "FROM main.columns",
)


@dataclass
class ArchResult:
    """One run of one architecture (replicate ``replicate``) and everything it measured: the unit a build
    writes in one transaction."""

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
    replicate: int = 0


def _int_width(a: np.ndarray) -> str:
    low, high = (int(a.min()), int(a.max())) if a.size else (0, 0)
    return next(w for w in _INTS if np.iinfo(_DTYPES[w]).min <= low and high <= np.iinfo(_DTYPES[w]).max)


def encode(array: Any) -> tuple[str, str, bytes]:
    """(dtype, shape, bytes) of a numeric array: unsigned bytes (packed bits) as they are, other integers in
    the smallest signed width that holds them, everything else as float64."""
    a = np.asarray(array)
    if a.dtype == np.uint8:
        dtype = "u1"
    else:
        dtype = _int_width(a) if np.issubdtype(a.dtype, np.integer) or a.dtype == bool else "f8"
    a = np.array(a, dtype=_DTYPES[dtype], order="C")  # keeps 0-d scalars 0-d (ascontiguousarray would not)
    return dtype, json.dumps(list(a.shape)), a.tobytes()


def pack_points(correct: Any) -> np.ndarray:
    """Per-point outcomes (bool ``[..., N]``) as packed bits ``[..., ceil(N / 8)]`` (uint8, little bit order)."""
    return np.packbits(np.asarray(correct, dtype=bool), axis=-1, bitorder="little")


def unpack_points(bits: np.ndarray, n: int) -> np.ndarray:
    """The bool ``[..., n]`` outcomes of :func:`pack_points`."""
    return np.unpackbits(np.asarray(bits, dtype=np.uint8), axis=-1, count=n, bitorder="little").astype(bool)


class BenchmarkFile:
    """A connection to one benchmark file; writable for builds and imports, read-only otherwise."""

    def __init__(self, path: str | Path, readonly: bool = True, immutable: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        found = schema_version(self.path, KIND) if self.path.exists() else FORMAT
        if found == 1 and not readonly:
            raise DataError(f"{self.path} is a format-1 benchmark (one replicate, robnas before replicates): it can "
                            "be read and queried, not extended; build a new benchmark to add replicates or proxies")
        version = found if found in READABLE_FORMATS else FORMAT
        self.format = version
        self.conn = connect(self.path, kind=KIND, schema=_SCHEMA, version=version, readonly=readonly,
                            immutable=immutable)
        try:
            if version == 1:
                for statement in _FORMAT_1_VIEWS:
                    self.conn.execute(statement)
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
            self._put_meta(values)

    def _put_meta(self, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            self.conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                              (name, json.dumps(value, sort_keys=True)))

    # --- architectures and runs ----------------------------------------------------------------

    def done_runs(self) -> set[tuple[str, int]]:
        """(key, replicate) of every run with a row (done or failed: a failed run is a result too, not retried)."""
        return {(k, r) for k, r in self.conn.execute("SELECT a.key, r.replicate FROM runs r JOIN archs a USING (row)")}

    def done_keys(self) -> set[str]:
        """Keys with at least one run."""
        return {k for (k,) in self.conn.execute("SELECT DISTINCT a.key FROM runs r JOIN archs a USING (row)")}

    def replicates(self) -> list[int]:
        """Replicate indices with at least one run, ascending."""
        return [r for (r,) in self.conn.execute("SELECT DISTINCT replicate FROM runs ORDER BY replicate")]

    def _insert(self, result: ArchResult) -> int:
        found = self.conn.execute("SELECT row FROM archs WHERE key = ?", (result.key,)).fetchone()
        if found is None:
            cur = self.conn.execute(
                "INSERT INTO archs (key, arch, ident, params, flops, info) VALUES (?, ?, ?, ?, ?, ?)",
                (result.key, result.arch, result.ident, result.params, result.flops,
                 json.dumps(result.info, sort_keys=True)))
            row = int(cur.lastrowid)
        else:
            row = int(found[0])
        self.conn.execute(
            "INSERT INTO runs (row, replicate, status, error, seed, train_seconds, eval_seconds, info) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (row, result.replicate, result.status, result.error, result.seed, result.train_seconds,
             result.eval_seconds, json.dumps(result.info, sort_keys=True)))
        self._put_measures(row, result.replicate, result.measures)
        return row

    def _put_measures(self, row: int, replicate: int, measures: Mapping[tuple[str, str], Any]) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO replicate_measures (key, measure, replicate, row, dtype, shape, value) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(key, measure, replicate, row, *encode(value)) for (key, measure), value in measures.items()])

    def add(self, result: ArchResult, meta: Mapping[str, Any] | None = None) -> int:
        """Write one run and all its measures (and ``meta`` entries, e.g. the build record that counts it) in
        one transaction; returns its architecture's row."""
        with transaction(self.conn):
            if meta:
                self._put_meta(meta)
            return self._insert(result)

    def add_many(self, results: Iterable[ArchResult]) -> int:
        """Several runs in one transaction (imports and merges: all or nothing)."""
        with transaction(self.conn):
            return sum(1 for result in results if self._insert(result) >= 0)

    def add_measures(self, row: int, measures: Mapping[tuple[str, str], Any], replicate: int = 0) -> None:
        """Measures added to an existing run later (proxies), in one transaction."""
        with transaction(self.conn):
            self._put_measures(row, replicate, measures)

    _ARCH_COLUMNS = ("row", "key", "arch", "ident", "params", "flops", "info")
    _RUN_COLUMNS = ("status", "error", "seed", "train_seconds", "eval_seconds")

    def arch_rows(self, columns: tuple[str, ...] = ("row", "key", "arch", "ident", "status")) -> list[tuple]:
        """The given columns of every architecture, in row order (the order of every query). Run columns
        (status, seed, timings) describe the architecture's first run; ``status`` is ``done`` when any of
        its runs is."""
        unknown = set(columns) - set(self._ARCH_COLUMNS) - set(self._RUN_COLUMNS)
        if unknown:
            raise ValueError(f"no architecture column {sorted(unknown)}")
        first = "r.replicate = (SELECT min(replicate) FROM runs WHERE row = a.row)"
        select = ", ".join("(SELECT CASE WHEN max(status = 'done') THEN 'done' ELSE 'failed' END FROM runs "
                           "WHERE row = a.row)" if c == "status" else f"r.{c}" if c in self._RUN_COLUMNS else f"a.{c}"
                           for c in columns)
        return self.conn.execute(f"SELECT {select} FROM archs a JOIN runs r ON r.row = a.row AND {first} "
                                 "ORDER BY a.row").fetchall()

    def run_rows(self, columns: tuple[str, ...] = ("row", "replicate", "status", "seed")) -> list[tuple]:
        """The given columns (``row``, ``replicate`` and the run columns) of every run, by row and replicate."""
        unknown = set(columns) - {"row", "replicate", "info", *self._RUN_COLUMNS}
        if unknown:
            raise ValueError(f"no run column {sorted(unknown)}")
        return self.conn.execute(f"SELECT {', '.join(columns)} FROM runs ORDER BY row, replicate").fetchall()

    def arch_row(self, row: int) -> dict[str, Any]:
        names = (*self._ARCH_COLUMNS, *self._RUN_COLUMNS)
        found = [r for r in self.arch_rows(names) if r[0] == row]
        record = dict(zip(names, found[0]))
        record["info"] = json.loads(record["info"])
        return record

    def _unpacked(self, key: str, measure: str, replicate: int) -> tuple[np.ndarray, np.ndarray] | None:
        rows = self.conn.execute("SELECT row, dtype, shape, value FROM replicate_measures WHERE key = ? AND "
                                 "measure = ? AND replicate = ?", (key, measure, replicate)).fetchall()
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

    def _packed(self, key: str, measure: str, replicate: int) -> tuple[np.ndarray, np.ndarray] | None:
        found = self.conn.execute("SELECT dtype, shape, rows, value FROM replicate_columns WHERE key = ? AND "
                                  "measure = ? AND replicate = ?", (key, measure, replicate)).fetchone()
        if found is None:
            return None
        dtype, shape, rows, value = found
        row_ids = np.frombuffer(rows, dtype=np.int64)
        return row_ids, np.frombuffer(value, dtype=_DTYPES[dtype]).reshape(len(row_ids), *json.loads(shape))

    def column(self, key: str, measure: str, replicate: int = 0) -> tuple[np.ndarray, np.ndarray] | None:
        """(arch rows, stacked values) of one result key, measure and replicate, or None if nobody has it:
        the packed column merged with values written since it was packed."""
        parts = [p for p in (self._packed(key, measure, replicate), self._unpacked(key, measure, replicate))
                 if p is not None]
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0]
        if parts[0][1].shape[1:] != parts[1][1].shape[1:]:
            raise DataError(f"{self.path}: the {key!r} {measure!r} values have different shapes; the file was "
                            "edited or written by a broken build")
        return np.concatenate([parts[0][0], parts[1][0]]), np.concatenate([parts[0][1], parts[1][1]])

    def pack(self) -> int:
        """Move every (key, measure, replicate) of ``replicate_measures`` into its packed column (one
        transaction each)."""
        pending = self.conn.execute("SELECT DISTINCT key, measure, replicate FROM replicate_measures").fetchall()
        for key, measure, replicate in pending:
            with transaction(self.conn):
                rows, values = self.column(key, measure, replicate)  # type: ignore[misc]
                order = np.argsort(rows, kind="stable")
                dtype, shape, blob = encode(values[order])
                self.conn.execute("INSERT OR REPLACE INTO replicate_columns (key, measure, replicate, dtype, shape, "
                                  "rows, value) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                  (key, measure, replicate, dtype, json.dumps(json.loads(shape)[1:]),
                                   rows[order].astype("<i8").tobytes(), blob))
                self.conn.execute("DELETE FROM replicate_measures WHERE key = ? AND measure = ? AND replicate = ?",
                                  (key, measure, replicate))
        return len(pending)

    def measures_of(self, row: int, replicate: int = 0) -> dict[tuple[str, str], np.ndarray]:
        """Every measure of one run (from the packed columns and the unpacked rows)."""
        out = {}
        for key, measure in self.result_keys():
            found = self.column(key, measure, replicate)
            if found is not None and row in found[0]:
                out[(key, measure)] = found[1][int(np.flatnonzero(found[0] == row)[0])]
        return out

    def results(self) -> list[ArchResult]:
        """Every run with all its measures, by architecture row then replicate (each column decoded once)."""
        archs = {row[0]: row for row in self.conn.execute(
            "SELECT row, key, arch, ident, params, flops, info FROM archs")}
        runs = self.run_rows(("row", "replicate", "status", "error", "seed", "train_seconds", "eval_seconds", "info"))
        by_run: dict[tuple[int, int], ArchResult] = {}
        for row, replicate, status, error, seed, train, evaluation, info in runs:
            _, key, arch, ident, params, flops, _ = archs[row]
            by_run[(row, replicate)] = ArchResult(key, arch, ident, status, error, seed, params, flops, train,
                                                  evaluation, json.loads(info), replicate=replicate)
        for key, measure in self.result_keys():
            for replicate in self.replicates():
                found = self.column(key, measure, replicate)
                if found is None:
                    continue
                for row, value in zip(found[0].tolist(), found[1]):
                    by_run[(row, replicate)].measures[(key, measure)] = value
        return [by_run[k] for k in sorted(by_run)]

    def result_keys(self) -> list[tuple[str, str]]:
        keys = self.conn.execute("SELECT key, measure FROM replicate_columns UNION SELECT DISTINCT key, measure FROM "
                                 "replicate_measures ORDER BY 1, 2").fetchall()
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
