"""`robnas search` with a discrete method end to end: outputs, the database as cache, kill -9 + --resume, bad input."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time

import pytest

from robnas.store.results_db import ResultsDB
from tests.pipeline.conftest import cli, robnas_subprocess  # noqa: F401  (cli is a fixture)

# A tiny search: nb201 cells of width 4 with one cell per stage, one epoch on 150 digits.
TINY_SEARCH = ["--space", "nb201", "--dataset", "digits", "--train-size", "150", "--test-size", "60", "--epochs", "1",
               "--batch-size", "50", "--backend", "inprocess", "--quiet", "--set", "search.discrete.build={C=4,N=1}"]


def _rows(path):
    with ResultsDB(path) as db:
        return db.records()


def test_random_search_writes_its_outputs_and_reads_the_database_back(cli, tmp_path):
    cli("search", "--method", "rs", *TINY_SEARCH, "--objectives", "clean_error", "--evaluations", "4", "--name", "a",
        check=True)
    run = tmp_path / "runs" / "a"
    rows = _rows(run / "results.db")
    assert len(rows) == 4 and all(r.status == "done" and r.attempts == 1 and r.run == "a" for r in rows)
    assert len({r.key for r in rows}) == 4 and all(0 <= r.metrics["clean_error"] <= 100 for r in rows)
    summary = json.loads((run / "results" / "search.json").read_text())
    assert (summary["evaluations"], summary["computed"], summary["cache_hits"]) == (4, 4, 0)
    assert summary["mean_eval_seconds"] > 0 and summary["wall_seconds"] > 0
    assert (run / "results" / "evaluations.csv").read_text().count("\n") == 5  # header + 4 rows
    assert (run / "results" / "best_so_far.png").read_bytes()[:4] == b"\x89PNG"
    assert not (run / "results" / "pareto.png").exists()  # one objective: no front to draw
    best = json.loads((run / "results" / "best.json").read_text())["architectures"]
    assert best[0]["metrics"]["clean_error"] == min(r.metrics["clean_error"] for r in rows)
    # another search on the same database and budget: every evaluation is a cache hit, nothing is retrained
    cli("search", "--method", "rs", *TINY_SEARCH, "--objectives", "clean_error", "--evaluations", "4", "--name", "b",
        "--set", f"search.discrete.db={run / 'results.db'}", check=True)
    again = json.loads((tmp_path / "runs" / "b" / "results" / "search.json").read_text())
    assert (again["computed"], again["cache_hits"], again["this_invocation"]["computed"]) == (0, 4, 0)
    assert _rows(run / "results.db") == rows  # untouched: same rows, attempts and finish times
    assert json.loads((tmp_path / "runs" / "b" / "results" / "best.json").read_text())["architectures"] == \
        json.loads((run / "results" / "best.json").read_text())["architectures"]


def test_nsga2_two_objectives_gives_a_pareto_set(cli, tmp_path):
    cli("search", "--method", "nsga2", *TINY_SEARCH, "--objectives", "clean_error,flops", "--evaluations", "6",
        "--set", "search.discrete.strategy={population_size=3,offspring=3}", "--name", "n", check=True)
    run = tmp_path / "runs" / "n"
    best = json.loads((run / "results" / "best.json").read_text())
    assert best["kind"] == "pareto set" and best["architectures"]
    assert (run / "results" / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    front = (run / "results" / "pareto.csv").read_text().splitlines()
    assert front[0].startswith("arch,clean_error,flops") and {line.split(",")[0] for line in front[1:]} == \
        {entry["arch"] for entry in best["architectures"]}
    points = [(r.metrics["clean_error"], r.metrics["flops"]) for r in _rows(run / "results.db")]
    for entry in best["architectures"]:
        mine = (entry["metrics"]["clean_error"], entry["metrics"]["flops"])
        assert not any(p[0] <= mine[0] and p[1] <= mine[1] and p != mine for p in points)  # non-dominated


def _done(path) -> list[tuple[str, int, float]]:
    try:
        with sqlite3.connect(path, timeout=5) as conn:
            return conn.execute("SELECT key, attempts, finished FROM evaluations WHERE status='done'").fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []


def test_kill_9_then_resume_loses_and_redoes_nothing(cli, tmp_path):
    args = ["search", "--method", "rs", *TINY_SEARCH, "--objectives", "clean_error,flops", "--evaluations", "10",
            "--name", "k", "--train-size", "300"]
    proc = robnas_subprocess(*args, cwd=tmp_path)
    db = tmp_path / "runs" / "k" / "results.db"
    deadline = time.time() + 120
    while len(_done(db)) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {key: (attempts, finished) for key, attempts, finished in _done(db)}
    assert 3 <= len(before) < 10, "the search must be killed mid-run"
    cli(*args, "--resume", check=True)
    rows = _rows(db)
    assert len(rows) == 10 and all(r.status == "done" for r in rows)
    for r in rows:
        if r.key in before:
            assert (r.attempts, r.finished) == before[r.key]  # completed before the kill: read, not redone
        else:
            assert r.attempts <= 2  # at most the one killed mid-evaluation ran twice
    summary = json.loads((tmp_path / "runs" / "k" / "results" / "search.json").read_text())
    assert summary["evaluations"] == 10 and summary["this_invocation"]["answered_by_database"] == len(before)
    assert summary["this_invocation"]["computed"] == 10 - len(before)


@pytest.mark.parametrize("extra, message", [
    (["--space", "nope"], "unknown search space 'nope'"),
    (["--method", "nope"], "unknown search method"),
    (["--objectives", "accuracy"], "unknown objective 'accuracy'"),
    (["--objectives", "advset_error"], "needs a pre-generated adversarial set"),
    (["--objectives", "advset_error", "--set", "search.discrete.advset=missing"], "is not an adversarial set"),
    (["--backend", "slurm"], "unknown execution backend 'slurm'"),
    (["--set", "search.discrete.table=bad.csv"], "is not a robnas benchmark file"),
    (["--set", "search.discrete.strategy={bogus=1}"], "does not accept bogus"),
])
def test_bad_input_is_one_line_and_writes_nothing(cli, tmp_path, extra, message):
    (tmp_path / "bad.csv").write_text("arch,clean_error\n|nor_conv_3x3~0|+|oops|,12.5\n")
    result = cli("search", "--method", "rs", *TINY_SEARCH, "--name", "x", *extra)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr
    assert not (tmp_path / "runs").exists()


def test_tabular_search_answers_from_a_benchmark(cli, tmp_path):
    """Tabular mode: every objective is looked up in a benchmark file (no training), lookups are recorded."""
    import robnas.bench
    from tests.bench.synthetic import write_benchmark

    path = write_benchmark(tmp_path / "nb201.sqlite", attacks=("fgsm@Linf",), corruptions=("fog",), proxies=())
    cli("search", "--method", "rs", *TINY_SEARCH, "--objectives", "clean_error,robust_error:fgsm@1/255,"
        "corruption_error:mean", "--evaluations", "25", "--set", f"search.discrete.table={path}", "--name", "t",
        check=True)
    summary = json.loads((tmp_path / "runs" / "t" / "results" / "search.json").read_text())
    assert summary["evaluations"] == 25 and summary["budget"]["evaluator"] == "benchmark"
    assert summary["dataset"] == "digits" and summary["computed"] == 25
    rows = _rows(tmp_path / "runs" / "t" / "results.db")
    assert len(rows) == 25 and len({r.key for r in rows}) == 25
    with robnas.bench.open(path) as bench:
        clean, fgsm = bench.query("clean"), bench.query("fgsm@Linf", eps="1/255")
        fog = bench.query("fog").mean(axis=1)
        for r in rows:
            i = bench.lookup(r.key)
            assert r.metrics == pytest.approx({"clean_error": 100 * (1 - clean[i]),
                                               "robust_error:fgsm@1/255": 100 * (1 - fgsm[i]),
                                               "corruption_error:mean": 100 * (1 - fog[i])})
