"""``robnas bench build``: a 20-architecture PGD-AT benchmark on 2 workers, killed mid-build, resumed without
redoing anything, exported and read back value for value; one architecture rebuilt alone gives its numbers."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import robnas.bench as bench
from robnas.bench.layout import export_layout, import_layout
from tests.pipeline.conftest import SUBPROCESS_ENV

# Tiny: PGD-AT (2 steps) for 1 epoch on 64 points, C=4, 30 test points; FGSM and PGD at two radii and one corruption.
TINY = ["--recipe", "digits-tiny-pgd-at", "--protocol", "eval",
        "--set", "bench.recipe_overrides={train={epochs=1, batch_size=32, adversarial={steps=2}}, train_size=64, "
                 "test_size=30, build={C=4}}",
        "--attacks", "fgsm,pgd", "--eps", "4/255,16/255", "--corruptions", "fog", "--set", "eval.steps=2",
        "--set", "eval.hrs_attack=pgd", "--proxies", "synflow,jacobian", "--quiet"]


def build(cwd: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "robnas.cli", "bench", "build", "b.sqlite", *TINY, *extra],
                            cwd=cwd, env=SUBPROCESS_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        try:
            return conn.execute("SELECT a.key, a.arch, r.seed, a.params, r.info FROM archs a JOIN runs r USING (row) "
                                "ORDER BY a.row, r.replicate").fetchall()
        except sqlite3.OperationalError:  # the build is creating the file's tables right now
            return []


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    cwd = tmp_path_factory.mktemp("build")
    first = build(cwd, "--sample", "20", "--workers", "2")
    path = cwd / "b.sqlite"
    deadline = time.time() + 300
    while time.time() < deadline and first.poll() is None:  # kill -9 once a few architectures are in
        if path.exists() and len(rows(path)) >= 4:
            break
        time.sleep(0.2)
    assert first.poll() is None, f"the build finished before it could be killed: {first.stderr.read()}"
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    before = rows(path)
    assert 4 <= len(before) < 20
    resumed = build(cwd, "--sample", "20", "--workers", "2", "--resume")
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()
    after = rows(path)
    assert after[: len(before)] == before  # nothing that was complete was redone or rewritten
    with bench.open(path) as b:
        builds = b.meta["builds"]
        # the killed invocation is recorded with exactly the runs it finished, the resumed one with the rest
        assert len(builds) == 2 and not builds[0]["finished"] and builds[0]["built"] == len(before)
        assert builds[1]["finished"] and builds[1]["built"] == 20 - len(before)
        assert all(b["command"].startswith("robnas bench build b.sqlite") for b in builds)  # no machine path
    return path


def test_the_resumed_build_is_complete(built):
    with bench.open(built) as b:
        assert len(b) == 20 and (b.status() == "done").all()
        assert b.meta["recipe"]["train"]["adversarial"]["enabled"] and b.meta["recipe_name"] == "digits-tiny-pgd-at"
        assert set(b.result_keys()) == {"clean", "fgsm", "pgd", "fog", "proxy:synflow@init", "proxy:synflow@trained",
                                        "proxy:jacobian@init", "proxy:jacobian@trained"}
        assert b.query("pgd", eps="16/255").shape == (20,) and b.query("fog").shape == (20, 5)
        assert (b.query("pgd", eps="16/255") <= b.query("clean")).all()
        params = b.column("params")
        assert len(set(params)) > 5  # a sample stratified over the parameter range
        assert np.isfinite(b.query("proxy:jacobian@trained", "value")).all()
        assert np.isfinite(b.info("nb201_flops_m")).all()


def test_one_architecture_rebuilt_alone_gives_the_same_numbers(built, tmp_path):
    with bench.open(built) as b:
        arch = b.archs()[7]
        original = b.record(arch)
    alone = subprocess.run([sys.executable, "-m", "robnas.cli", "bench", "build", "one.sqlite", *TINY, "--only", arch,
                            "--backend", "inprocess"], cwd=tmp_path, env=SUBPROCESS_ENV, capture_output=True, text=True)
    assert alone.returncode == 0, alone.stderr
    with bench.open(tmp_path / "one.sqlite") as b:
        again = b.record(arch)
    assert again["measures"] == original["measures"]
    assert (again["params"], again["flops"], again["seed"]) == (original["params"], original["flops"], original["seed"])


def test_export_reads_back_with_every_value_equal(built, tmp_path):
    with bench.open(built) as b:
        export_layout(b, tmp_path / "export")
    meta = json.loads((tmp_path / "export" / "meta.json").read_text())
    assert meta["epsilons"] == {"fgsm": [4.0, 16.0], "pgd": [4.0, 16.0]}
    back = import_layout(tmp_path / "export", tmp_path / "back.sqlite")
    with bench.open(built) as first, bench.open(back) as second:
        assert sorted(first.archs()) == sorted(second.archs())
        order = second.positions(first.keys())  # the import lists by id, the build in completion order
        for key in second.result_keys():
            for measure in ("accuracy", "confidence", "cm"):
                np.testing.assert_array_equal(first.query(key, measure), second.query(key, measure)[order])


def test_bad_builds_write_nothing(tmp_path, cli):
    cases = [
        (["--space", "nasbench101"], "unknown search space"),
        (["--recipe", "nb202"], "unknown training recipe"),
        (["--protocol", "nosuch"], "unknown protocol"),
        (["--proxies", "entropy"], "unknown proxy"),
        (["--only", "|conv~0|"], "arch"),
        (["--only", "15625"], "0..15624"),
        (["--sample", "-1"], "sample"),
        (["--set", "bench.recipe_overrides={train={epoch=1}}"], "recipe_overrides.train.epoch"),
    ]
    for extra, needle in cases:
        proc = cli("bench", "build", "x.sqlite", "--quiet", *extra)
        assert proc.returncode == 2 and needle in proc.stderr, (extra, proc.stderr)
        assert not list(tmp_path.glob("x.sqlite*"))
    (tmp_path / "x.sqlite").write_bytes(b"")
    proc = cli("bench", "build", "x.sqlite", "--quiet", "--only", "0")
    assert proc.returncode == 2 and "--resume" in proc.stderr


def test_proxies_added_later_equal_those_computed_during_the_build(tmp_path, cli):
    # Build 3 architectures with their proxies and kept weights; then add the same proxies to a copy
    # built without them: init from the rebuilt network, trained from the kept weights.
    common = ["--only", "0,1,2", "--backend", "inprocess", *[a for a in TINY if a not in ("--proxies", "synflow,jacobian")],
              "--keep-weights", str(tmp_path / "w")]
    cli("bench", "build", "with.sqlite", *common, "--proxies", "synflow,jacobian", check=True)
    cli("bench", "build", "without.sqlite", *common, check=True)
    bad = cli("bench", "proxies", "without.sqlite", "--proxies", "synflow", "--quiet")
    assert bad.returncode == 2 and "--keep-weights" in bad.stderr
    cli("bench", "proxies", "without.sqlite", "--proxies", "synflow,jacobian", "--keep-weights", str(tmp_path / "w"),
        "--quiet", check=True)
    with bench.open(tmp_path / "with.sqlite") as a, bench.open(tmp_path / "without.sqlite") as b:
        order = b.positions(a.keys())
        for key in ("proxy:synflow@init", "proxy:jacobian@init", "proxy:synflow@trained", "proxy:jacobian@trained"):
            np.testing.assert_array_equal(a.query(key, "value"), b.query(key, "value")[order])
    again = cli("bench", "proxies", "without.sqlite", "--proxies", "synflow", "--at", "init", "--quiet", check=True)
    assert again.returncode == 0  # nothing missing: nothing recomputed


def test_shards_merge_into_the_same_benchmark(built, tmp_path, cli):
    """Two shards of the same sample, built apart and merged, hold the very values of the one build."""
    for k in (1, 3):
        shard = subprocess.run([sys.executable, "-m", "robnas.cli", "bench", "build", f"s{k}.sqlite", *TINY,
                                "--sample", "20", "--shard", f"{k}/4", "--backend", "inprocess"],
                               cwd=tmp_path, env=SUBPROCESS_ENV, capture_output=True, text=True)
        assert shard.returncode == 0, shard.stderr
    merged = cli("bench", "merge", str(tmp_path / "m.sqlite"), str(tmp_path / "s1.sqlite"), str(tmp_path / "s3.sqlite"))
    assert merged.returncode == 0, merged.stderr
    with bench.open(built) as whole, bench.open(tmp_path / "m.sqlite") as part:
        assert len(part) == 10 and set(part.keys()) <= set(whole.keys())
        assert [b["shard"] for b in part.meta["builds"]] == ["1/4", "3/4"]
        order = whole.positions(part.keys())
        for key in whole.result_keys():
            measures = ("value",) if key.startswith("proxy:") else ("accuracy", "confidence", "cm")
            for measure in measures:
                np.testing.assert_array_equal(part.query(key, measure), whole.query(key, measure)[order])
    again = cli("bench", "merge", str(tmp_path / "m2.sqlite"), str(tmp_path / "s1.sqlite"), str(built))
    assert again.returncode == 0  # overlapping parts agree value for value
    other = cli("bench", "merge", str(tmp_path / "m3.sqlite"), str(tmp_path / "s1.sqlite"),
                str(Path(__file__).parent / "no-such.sqlite"))
    assert other.returncode == 2 and not (tmp_path / "m3.sqlite").exists()
