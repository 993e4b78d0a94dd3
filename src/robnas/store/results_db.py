"""The results database: one SQLite row per architecture evaluation, and the search's cache.

A row is identified by ``(space, key, dataset, budget, seed)``: the canonical key of the
architecture (equivalent architectures share it), the dataset, the budget -- everything that
determines the measured numbers (epochs, adversarial training, subset sizes, objectives, ...) as a
canonical JSON string -- and the evaluation seed. A search asks the database before it trains, so
a re-proposed or equivalent architecture is read back instead of retrained.

Durability and concurrency (:mod:`robnas.store.sqlite`): WAL mode, one ``BEGIN IMMEDIATE``
transaction per write, so ``kill -9`` of a writer at any moment loses no committed evaluation, and
several processes can write at once (SQLite serialises them; readers never block). A row moves ``pending`` -> ``running`` -> ``done`` or ``failed``; the
first ``done`` wins, so two searches that evaluate the same architecture concurrently keep one
answer. ``attempts`` counts how often an evaluation was started, which makes "nothing completed
was redone" checkable after a resume.

Tabular mode (a search answered by a robustness benchmark, :class:`BenchmarkEvaluator
<robnas.bench.search_runs.BenchmarkEvaluator>`) records its lookups as ordinary rows whose
budget names the benchmark and the objectives.
"""

from __future__ import annotations

import csv
import json
import math
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from robnas.errors import InvalidValueError
from robnas.store.atomic import write_atomic, write_json_atomic
from robnas.store.sqlite import connect, transaction

SCHEMA_VERSION = 1
STATUSES = ("pending", "running", "done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evaluations (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    space     TEXT NOT NULL,
    key       TEXT NOT NULL,
    arch      TEXT NOT NULL,
    dataset   TEXT NOT NULL,
    budget    TEXT NOT NULL,
    seed      INTEGER NOT NULL,
    status    TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    metrics   TEXT NOT NULL DEFAULT '{}',
    error     TEXT,
    seconds   REAL,
    worker    TEXT,
    run       TEXT,
    attempts  INTEGER NOT NULL DEFAULT 0,
    created   REAL NOT NULL,
    started   REAL,
    finished  REAL,
    UNIQUE (space, key, dataset, budget, seed)
);
CREATE INDEX IF NOT EXISTS evaluations_by_run ON evaluations (run);
"""

_COLUMNS = ("id", "space", "key", "arch", "dataset", "budget", "seed", "status", "metrics", "error", "seconds",
            "worker", "run", "attempts", "created", "started", "finished")


def budget_key(budget: dict[str, Any]) -> str:
    """The canonical JSON string of a budget: sorted keys, no whitespace, so equal budgets compare equal."""
    try:
        return json.dumps(budget, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"an evaluation budget must be plain JSON data without NaN, got {budget!r:.200}") from exc


@dataclass(frozen=True)
class Slot:
    """Where an evaluation lives: every field of the unique key except the architecture's key."""

    space: str
    dataset: str
    budget: str   # budget_key(...) output
    seed: int


@dataclass(frozen=True)
class Record:
    """One row of the ``evaluations`` table."""

    id: int
    space: str
    key: str
    arch: str
    dataset: str
    budget: str
    seed: int
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    seconds: float | None = None
    worker: str | None = None
    run: str | None = None
    attempts: int = 0
    created: float = 0.0
    started: float | None = None
    finished: float | None = None

    @property
    def done(self) -> bool:
        return self.status == "done"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _record(row: sqlite3.Row) -> Record:
    values = dict(zip(_COLUMNS, row))
    values["metrics"] = json.loads(values["metrics"])
    return Record(**values)


class ResultsDB:
    """A handle on one results database file (created on first use). Not shared between processes:
    each process opens its own handle on the same path."""

    def __init__(self, path: str | Path, timeout: float = 60.0, readonly: bool = False) -> None:
        self.path = Path(path)
        self._conn = connect(self.path, kind="results database", schema=_SCHEMA, version=SCHEMA_VERSION,
                             readonly=readonly, timeout=timeout)

    def _write(self) -> Any:
        return transaction(self._conn)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "ResultsDB":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading -------------------------------------------------------------------------------

    def get(self, slot: Slot, key: str) -> Record | None:
        row = self._conn.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM evaluations WHERE space=? AND key=? AND dataset=? AND budget=? "
            "AND seed=?", (slot.space, key, slot.dataset, slot.budget, slot.seed)).fetchone()
        return _record(row) if row else None

    def get_many(self, slot: Slot, keys: Sequence[str]) -> dict[str, Record]:
        """The rows of ``keys`` in ``slot`` that exist, by key."""
        out: dict[str, Record] = {}
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), 500):  # stay under SQLite's host-parameter limit
            chunk = unique[i:i + 500]
            rows = self._conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM evaluations WHERE space=? AND dataset=? AND budget=? AND seed=? "
                f"AND key IN ({', '.join('?' * len(chunk))})",
                (slot.space, slot.dataset, slot.budget, slot.seed, *chunk)).fetchall()
            out.update((r.key, r) for r in map(_record, rows))
        return out

    def records(self, *, space: str | None = None, dataset: str | None = None, budget: str | None = None,
                seed: int | None = None, status: str | None = None, run: str | None = None) -> list[Record]:
        """Rows matching every given filter, in insertion order."""
        filters = {"space": space, "dataset": dataset, "budget": budget, "seed": seed, "status": status, "run": run}
        where = [(f"{name} = ?", value) for name, value in filters.items() if value is not None]
        sql = f"SELECT {', '.join(_COLUMNS)} FROM evaluations"
        if where:
            sql += " WHERE " + " AND ".join(w for w, _ in where)
        return [_record(r) for r in self._conn.execute(sql + " ORDER BY id", [v for _, v in where]).fetchall()]

    def count(self, **filters: Any) -> int:
        return len(self.records(**filters))

    # --- writing -------------------------------------------------------------------------------

    def add_pending(self, slot: Slot, items: Iterable[tuple[str, str]], run: str | None = None) -> None:
        """Register ``(key, arch)`` pairs a search is about to evaluate (existing rows are left alone)."""
        now = time.time()
        with self._write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO evaluations (space, key, arch, dataset, budget, seed, status, run, created) "
                "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                [(slot.space, key, arch, slot.dataset, slot.budget, slot.seed, run, now) for key, arch in items])

    def start(self, slot: Slot, key: str, arch: str, run: str | None = None) -> Record:
        """Mark an evaluation as running (creating its row if needed) and count the attempt.

        A row that is already ``done`` is returned unchanged: the caller must use it, not re-evaluate."""
        now = time.time()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO evaluations (space, key, arch, dataset, budget, seed, status, run, created) "
                "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING",
                (slot.space, key, arch, slot.dataset, slot.budget, slot.seed, run, now))
            conn.execute(
                "UPDATE evaluations SET status='running', attempts=attempts+1, started=?, run=?, error=NULL "
                "WHERE space=? AND key=? AND dataset=? AND budget=? AND seed=? AND status != 'done'",
                (now, run, slot.space, key, slot.dataset, slot.budget, slot.seed))
        record = self.get(slot, key)
        assert record is not None
        return record

    def finish(self, slot: Slot, key: str, arch: str, metrics: dict[str, float], *, seconds: float | None = None,
               worker: str | None = None, run: str | None = None, error: str | None = None) -> Record:
        """Store a finished evaluation (``error`` set: a failed one). The first ``done`` row wins."""
        status = "failed" if error is not None else "done"
        clean = {str(k): float(v) for k, v in metrics.items()}
        if any(math.isnan(v) for v in clean.values()):
            raise InvalidValueError(f"evaluation of {arch!r} produced NaN metrics {clean}")
        now = time.time()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO evaluations (space, key, arch, dataset, budget, seed, status, metrics, error, seconds, "
                "worker, run, attempts, created, started, finished) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?) "
                "ON CONFLICT (space, key, dataset, budget, seed) DO UPDATE SET status=excluded.status, "
                "metrics=excluded.metrics, error=excluded.error, seconds=excluded.seconds, worker=excluded.worker, "
                "run=excluded.run, finished=excluded.finished WHERE evaluations.status != 'done'",
                (slot.space, key, arch, slot.dataset, slot.budget, slot.seed, status, json.dumps(clean), error,
                 seconds, worker, run, now, now, now))
        record = self.get(slot, key)
        assert record is not None
        return record

    # --- export --------------------------------------------------------------------------------

    def export_json(self, path: str | Path, **filters: Any) -> Path:
        """Every matching row as a JSON list (written atomically)."""
        write_json_atomic(path, [r.as_dict() for r in self.records(**filters)])
        return Path(path)

    def export_csv(self, path: str | Path, **filters: Any) -> Path:
        """Every matching row as CSV; each metric becomes a ``metric:<name>`` column."""
        records = self.records(**filters)
        metric_names = sorted({name for r in records for name in r.metrics})
        head = [c for c in _COLUMNS if c != "metrics"] + [f"metric:{m}" for m in metric_names]

        def write(fh: Any) -> None:
            writer = csv.writer(fh)
            writer.writerow(head)
            for r in records:
                row = r.as_dict()
                writer.writerow([row[c] for c in head if not c.startswith("metric:")]
                                + [r.metrics.get(m, "") for m in metric_names])

        write_atomic(path, write)
        return Path(path)
