"""SQLite plumbing shared by robnas' databases (the search's results database, benchmark files).

Durability and concurrency: a writable database runs in WAL mode with ``synchronous=FULL`` and a
busy timeout, and every write is one ``BEGIN IMMEDIATE`` transaction, so ``kill -9`` of a writer at
any moment loses no committed transaction and several processes can write at once (SQLite
serialises them; readers never block). A file that is not a database of the expected kind and
schema version is refused with one line.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from robnas.errors import DataError


def connect(path: Path, *, kind: str, schema: str, version: int, readonly: bool = False, immutable: bool = False,
            timeout: float = 60.0) -> sqlite3.Connection:
    """Open (creating when writable) a database of ``kind`` at ``path`` whose ``meta`` table records
    ``schema_version = version``; ``schema`` is the ``CREATE ... IF NOT EXISTS`` script."""
    if readonly:
        if not path.is_file():
            raise DataError(f"{kind} {path} does not exist; check the path")
        uri = f"file:{path.resolve()}?{'immutable=1' if immutable else 'mode=ro'}"
        conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    try:
        if not readonly:
            # WAL: readers never block the writer and a crashed writer's committed transactions stay.
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            with transaction(conn):
                for statement in filter(str.strip, schema.split(";")):  # executescript would COMMIT first
                    conn.execute(statement)
                conn.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', ?)", (str(version),))
        row = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DataError(f"{path} is not a robnas {kind} ({exc}); move it away or pick another path") from exc
    if row is None or int(row[0]) != version:
        conn.close()
        raise DataError(f"{path} has {kind} schema {row[0] if row else None!r}, this robnas reads version "
                        f"{version}; use the robnas version that wrote it")
    return conn


def schema_version(path: Path, kind: str) -> int | None:
    """The ``schema_version`` an existing database of ``kind`` records, or None when it records none (not a
    robnas database, or empty); read without writing anything."""
    try:
        conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
        return int(row[0]) if row else None
    except (sqlite3.Error, ValueError):
        return None
    finally:
        conn.close()


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction; IMMEDIATE takes the write lock up front so concurrent writers queue on the
    busy timeout instead of failing on a lock upgrade."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
