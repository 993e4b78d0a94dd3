"""The results database: identity of a row, first-done-wins, concurrent writers, kill -9, export, tables."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from robnas.errors import DataError, InvalidValueError
from robnas.store.results_db import ResultsDB, Slot, budget_key
from tests.store.db_writer import SLOT

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"}


def _writer(db: Path, name: str, n: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.store.db_writer", str(db), name, str(n)], cwd=ROOT, env=ENV,
                            stderr=subprocess.PIPE)


def test_budget_key_is_canonical_and_rejects_nan():
    assert budget_key({"b": 1, "a": [1, 2]}) == budget_key({"a": [1, 2], "b": 1}) == '{"a":[1,2],"b":1}'
    with pytest.raises(InvalidValueError):
        budget_key({"lr": float("nan")})


def test_row_lifecycle_first_done_wins_and_slots_are_separate(tmp_path):
    db = ResultsDB(tmp_path / "r.db")
    other = Slot("nb201", "digits", budget_key({"epochs": 2}), 0)
    db.add_pending(SLOT, [("k", "a1")], run="r")
    assert db.get(SLOT, "k").status == "pending" and db.get(SLOT, "k").attempts == 0
    assert db.start(SLOT, "k", "a1", run="r").status == "running"
    first = db.finish(SLOT, "k", "a1", {"clean_error": 12.5}, seconds=1.5, worker="w1", run="r")
    assert (first.status, first.metrics, first.attempts, first.worker) == ("done", {"clean_error": 12.5}, 1, "w1")
    # an equivalent arch (same key) arriving later does not overwrite, and start() leaves a done row alone
    assert db.finish(SLOT, "k", "a2", {"clean_error": 99.0}, worker="w2").metrics == {"clean_error": 12.5}
    assert db.start(SLOT, "k", "a2").attempts == 1
    assert db.get(other, "k") is None  # another budget is another evaluation
    db.finish(other, "k", "a1", {}, error="TrainingDivergedError: loss nan")
    assert db.get(other, "k").status == "failed"
    assert db.get_many(SLOT, ["k", "missing", "k"]).keys() == {"k"}
    with pytest.raises(InvalidValueError):
        db.finish(SLOT, "n", "a", {"clean_error": float("nan")})
    db.close()
    # reopened: WAL mode, rows intact
    reopened = ResultsDB(tmp_path / "r.db")
    assert reopened._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert [r.key for r in reopened.records()] == ["k", "k"]


def test_concurrent_writer_processes_lose_nothing(tmp_path):
    path = tmp_path / "shared.db"
    n = 40
    procs = [_writer(path, name, n) for name in ("alpha", "beta", "gamma")]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
    db = ResultsDB(path)
    done = db.records(status="done")
    assert sorted(r.key for r in done) == sorted(f"k{i}" for i in range(n))  # one row per shared key
    assert all(r.metrics["clean_error"] == float(r.key[1:]) for r in done)
    for name in ("alpha", "beta", "gamma"):
        assert len([r for r in db.records(status="pending") if r.key.startswith(f"{name}-own")]) == n
    assert db._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_committed_rows_survive_kill_9_of_a_writer(tmp_path):
    path = tmp_path / "killed.db"
    proc = _writer(path, "victim", 0)
    deadline = time.time() + 30
    seen = 0
    while seen < 25 and time.time() < deadline:
        time.sleep(0.05)
        if path.exists():
            try:
                with sqlite3.connect(path, timeout=5) as conn:
                    seen = conn.execute("SELECT count(*) FROM evaluations WHERE status='done'").fetchone()[0]
            except sqlite3.OperationalError:  # the schema may not exist yet
                pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert seen >= 25
    db = ResultsDB(path)
    done = db.records(status="done")
    assert len(done) >= seen  # everything counted before the kill is still there ...
    assert [r.key for r in done] == [f"k{i}" for i in range(len(done))]  # ... with no gap
    assert all(r.metrics == {"clean_error": float(r.key[1:]), "writer": 6.0} for r in done)
    assert db._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_export_csv_and_json_and_read_back(tmp_path):
    db = ResultsDB(tmp_path / "r.db")
    db.finish(SLOT, "k1", "a1", {"clean_error": 10.0, "flops": 2e6}, seconds=0.5, worker="w")
    db.finish(SLOT, "k2", "a2", {"clean_error": 20.0}, seconds=0.7, worker="w")
    db.add_pending(SLOT, [("k3", "a3")])
    rows = list(csv.DictReader(open(db.export_csv(tmp_path / "r.csv"))))
    assert [r["arch"] for r in rows] == ["a1", "a2", "a3"]
    assert rows[0]["metric:flops"] == "2000000.0" and rows[1]["metric:flops"] == ""
    records = json.loads(db.export_json(tmp_path / "r.json", status="done").read_text())
    assert [(r["arch"], r["metrics"]) for r in records] == [("a1", {"clean_error": 10.0, "flops": 2e6}),
                                                           ("a2", {"clean_error": 20.0})]


def test_not_a_database_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DataError, match="not a robnas results database"):
        ResultsDB(bad)
    with pytest.raises(DataError, match="does not exist"):
        ResultsDB(tmp_path / "missing.db", readonly=True)
