"""Replicates and per-point outcomes: built for real (tiny recipe), stored, queried, resumed, merged, and the
noise they let every study report (ceilings, intervals, held-out scoring)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import robnas.bench as bench
from robnas.bench import measurements as m
from robnas.bench.noise import Source, noise_ceiling, noise_draws, source
from robnas.bench.store import BenchmarkFile, pack_points, unpack_points
from robnas.data import load_dataset
from robnas.errors import InvalidValueError
from robnas.evaluation import get_protocol
from robnas.evaluation.engine import duplicate_conditions

# Tiny: 1 epoch on 96 points, C=4, 40 test points; FGSM and PGD at two radii and one corruption.
TINY = ["--recipe", "digits-tiny", "--protocol", "eval", "--set",
        "bench.recipe_overrides={train={epochs=1, batch_size=32}, train_size=96, test_size=40, build={C=4}}",
        "--attacks", "fgsm,pgd", "--eps", "8/255,16/255", "--corruptions", "fog", "--set", "eval.steps=2",
        "--backend", "inprocess", "--quiet", "--only", "0,1,2"]


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory) -> Path:
    from robnas.cli import main

    cwd = tmp_path_factory.mktemp("replicates")
    assert main(["bench", "build", str(cwd / "two.sqlite"), *TINY, "--set", "bench.seeds=2"]) == 0
    assert main(["bench", "build", str(cwd / "one.sqlite"), *TINY]) == 0
    return cwd


def test_replicates_are_independent_trainings_on_the_same_points(two_seeds):
    with bench.open(two_seeds / "two.sqlite") as b, bench.open(two_seeds / "one.sqlite") as one:
        assert b.replicates == [0, 1] and one.replicates == [0] and b.test_points == 40
        order = b.positions(one.keys())
        # replicate 0 is what a build without replicates measures, value for value
        for key in ("clean", "fgsm", "pgd", "fog"):
            for measure in ("accuracy", "confidence", "cm"):
                np.testing.assert_array_equal(b.query(key, measure, replicate=0)[order], one.query(key, measure))
        seeds = {(row, r): s for row, r, _, s in b.file.run_rows()}
        assert len(seeds) == 6 and len(set(seeds.values())) == 6  # every run its own seed
        first, second = b.query("pgd", eps="8/255", replicate=0), b.query("pgd", eps="8/255", replicate=1)
        assert not np.array_equal(first, second)
        np.testing.assert_allclose(b.query("pgd", eps="8/255"), (first + second) / 2)
        np.testing.assert_allclose(b.query("pgd", eps="8/255", replicate=(0, 1)), (first + second) / 2)
        with pytest.raises(InvalidValueError, match="replicates"):
            b.query("clean", replicate=5)


def test_per_point_outcomes_give_every_accuracy(two_seeds):
    with bench.open(two_seeds / "two.sqlite") as b:
        for replicate in b.replicates:
            assert np.allclose(b.points("clean", replicate=replicate).mean(axis=1), b.query("clean", replicate=replicate))
            for key in ("fgsm", "pgd"):
                for eps in ("8/255", "16/255"):
                    bits = b.points(key, eps, replicate)
                    assert bits.shape == (3, 40)
                    np.testing.assert_allclose(bits.mean(axis=1), b.query(key, eps=eps, replicate=replicate))
                    # a point an attack breaks was either wrong already or is now wrong: robust implies clean
                    assert not (bits & ~b.points("clean", replicate=replicate)).any()
            for severity in (1, 5):
                np.testing.assert_allclose(b.points("fog", severity, replicate).mean(axis=1),
                                           b.query("fog", eps=severity, replicate=replicate))


def test_resume_adds_replicates_and_shards_merge(two_seeds, cli):
    import shutil

    grow = two_seeds / "grow.sqlite"
    shutil.copy(two_seeds / "one.sqlite", grow)
    cli("bench", "build", str(grow), *TINY, "--set", "bench.seeds=2", "--resume", check=True)
    with bench.open(grow) as grown, bench.open(two_seeds / "two.sqlite") as built:
        assert grown.replicates == [0, 1] and [b["built"] for b in grown.meta["builds"]] == [3, 3]
        order = grown.positions(built.keys())
        for r in (0, 1):
            np.testing.assert_array_equal(grown.query("pgd", replicate=r)[order], built.query("pgd", replicate=r))
    for k in (1, 2):
        cli("bench", "build", f"s{k}.sqlite", *TINY, "--set", "bench.seeds=2", "--shard", f"{k}/2", check=True)
    cli("bench", "merge", "m.sqlite", "s1.sqlite", "s2.sqlite", check=True)
    with bench.open("m.sqlite") as merged, bench.open(two_seeds / "two.sqlite") as built:
        assert merged.replicates == [0, 1] and merged.test_points == 40
        order = merged.positions(built.keys())
        for r in (0, 1):
            np.testing.assert_array_equal(merged.points("fgsm", "16/255", r)[order], built.points("fgsm", "16/255", r))


def test_show_prints_the_noise_ceiling_or_says_why_not(two_seeds, cli):
    shown = json.loads(cli("bench", "show", str(two_seeds / "two.sqlite"), check=True).stdout.split("\nresults:")[0])
    assert shown["replicates"] == 2 and shown["test_points"] == 40
    assert set(shown["noise"]) >= {"clean", "fgsm 8/255", "pgd 16/255", "fog", "corruption mean"}
    # tau is null where every architecture ties (3 one-epoch networks can all sit at chance)
    assert all(v["replicate_tau"] is None or -1 <= v["replicate_tau"] <= 1 for v in shown["noise"].values())
    assert all(v["replicate_sd"] >= 0 for v in shown["noise"].values())
    one = json.loads(cli("bench", "show", str(two_seeds / "one.sqlite"), check=True).stdout.split("\nresults:")[0])
    assert "no noise ceiling" in one["noise"] and "--seeds 2" in one["noise"]


def test_a_noise_ceiling_needs_two_replicates():
    src = Source(np.array([[0.1, 0.5, 0.9]]))
    with pytest.raises(InvalidValueError, match="--seeds 2"):
        noise_ceiling(src)
    exact = noise_ceiling(Source(np.array([[0.1, 0.5, 0.9, 0.3], [0.2, 0.6, 0.95, 0.25]])), resamples=50)
    assert exact.tau == pytest.approx(1.0) and exact.pairs == 4


def test_noise_draws_redraw_points_and_seeds_consistently():
    rng = np.random.default_rng(0)
    bits = rng.random((2, 5, 60)) < 0.6
    src = Source(bits.mean(axis=2), bits.astype(np.uint8))
    draws = noise_draws([src, src], 30, seed=3, points=60)
    assert draws.shape == (2, 30, 5) and np.array_equal(draws[0], draws[1])  # paired measures stay paired
    assert draws[0].std(axis=0).min() > 0                                     # the redraws move the values
    assert np.abs(draws[0].mean(axis=0) - bits.mean(axis=(0, 2))).max() < 0.08


def test_points_pack_and_unpack():
    bits = np.random.default_rng(1).random((3, 4, 37)) < 0.5
    packed = pack_points(bits)
    assert packed.dtype == np.uint8 and packed.shape == (3, 4, 5)
    assert np.array_equal(unpack_points(packed, 37), bits)


def test_format_1_files_are_read_and_not_extended(tmp_path):
    """A benchmark written before replicates (schema 1) reads as replicate 0 and refuses to be written."""
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript("""
            CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE archs (row INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, arch TEXT NOT NULL, ident INTEGER,
                status TEXT NOT NULL, error TEXT, seed INTEGER, params INTEGER, flops INTEGER, train_seconds REAL,
                eval_seconds REAL, info TEXT NOT NULL DEFAULT '{}');
            CREATE TABLE measures (key TEXT, measure TEXT, row INTEGER, dtype TEXT, shape TEXT, value BLOB,
                PRIMARY KEY (key, measure, row)) WITHOUT ROWID;
            CREATE TABLE columns (key TEXT, measure TEXT, dtype TEXT, shape TEXT, rows BLOB, value BLOB,
                PRIMARY KEY (key, measure)) WITHOUT ROWID;""")
        conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        for name, value in (("space", "nb201"), ("dataset", "digits"), ("axes", {"clean": {"kind": "clean", "axis": []}})):
            conn.execute("INSERT INTO meta VALUES (?, ?)", (name, json.dumps(value)))
        conn.execute("INSERT INTO archs VALUES (1, 'k', '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|', 0, 'done', "
                     "NULL, 7, 10, 20, 1.0, 2.0, '{}')")
        conn.execute("INSERT INTO measures VALUES ('clean', 'accuracy', 1, 'f8', '[]', ?)",
                     (np.float64(0.25).tobytes(),))
    with bench.open(path) as old:
        assert old.replicates == [0] and old.query("clean").tolist() == [0.25] and old.column("seed").tolist() == [7]
        assert old.test_points is None
    with pytest.raises(Exception, match="format-1"):
        BenchmarkFile(path, readonly=False)


def test_duplicate_conditions_at_the_digits_size():
    """On 8x8 digits pixelate 2 = 1 and 4 = 3, motion_blur 4 = 3 (the issue's finding), nothing else."""
    digits = load_dataset("digits")
    assert set(duplicate_conditions(digits.test, get_protocol("jung-digits"))) == {
        ("pixelate", 2), ("pixelate", 4), ("motion_blur", 4)}


def test_sources_follow_the_measurements(tmp_path):
    from tests.bench.synthetic import write_benchmark

    path = write_benchmark(tmp_path / "s.sqlite", count=40, attacks=("fgsm@Linf",), corruptions=("fog", "snow"),
                           proxies=("jacobian",), replicates=2, points=50)
    with bench.open(path) as b:
        for measure in (m.clean(b), *m.attacks(b), *m.corruptions(b), *m.proxies(b)):
            src = source(b, measure)
            assert src.replicates.shape == (2, 40)
            np.testing.assert_allclose(np.nanmean(src.replicates, axis=0), measure.values, atol=1e-12)
            if measure.kind != "proxy":  # accuracies are recomputed from their points with unit weights
                np.testing.assert_allclose(src.draw(np.array([0, 1]), np.ones(50)), measure.values, atol=1e-6)


def test_two_architectures_compared_point_by_point(tmp_path):
    from robnas.bench.noise import compare_paired, mcnemar_p

    from tests.bench.synthetic import write_benchmark

    path = write_benchmark(tmp_path / "p.sqlite", count=30, attacks=("fgsm@Linf",), corruptions=(), proxies=(),
                           replicates=1, points=200)
    with bench.open(path) as b:
        clean = b.query("clean")
        best, worst = int(np.argmax(clean)), int(np.argmin(clean))
        c = compare_paired(b, b.archs()[best], b.archs()[worst])
        # the accuracy difference is the difference of the discordant counts, over the points
        assert c.only_a - c.only_b == round(200 * (clean[best] - clean[worst])) and c.p_value < 1e-6
        assert (c.accuracy_a, c.accuracy_b) == pytest.approx((clean[best], clean[worst])) and "better" in c.verdict
        same = compare_paired(b, b.archs()[best], b.archs()[best], "fgsm@Linf", "1/255")
        assert same.only_a == same.only_b == 0 and same.p_value == 1.0
    assert mcnemar_p(10, 10) == 1.0 and mcnemar_p(0, 8) == pytest.approx(2 / 2 ** 8)


def test_a_cascade_attacks_only_the_survivors(tmp_path, cli):
    cli("bench", "build", "c.sqlite", *TINY, "--set", "bench.seeds=2", "--keep-weights", "w", check=True)
    bad = cli("bench", "cascade", "c.sqlite", "--after", "pgd", "--attack", "apgd-ce", "--eps", "5/255",
              "--keep-weights", "w")
    assert bad.returncode == 2 and "8/255, 16/255" in bad.stderr  # one line naming the radii it has
    assert cli("bench", "cascade", "c.sqlite", "--after", "pgd", "--attack", "apgd-ce", "--eps", "16/255").returncode == 2
    cli("bench", "cascade", "c.sqlite", "--after", "pgd", "--attack", "apgd-ce", "--eps", "16/255", "--keep-weights",
        "w", "--set", "bench.cascade.params={steps=5, restarts=1}", "--backend", "inprocess", "--quiet", check=True)
    with bench.open(tmp_path / "c.sqlite") as b:
        key = "cascade:pgd>apgd-ce"
        assert b.axis(key) == ["16/255"] and b.meta["axes"][key]["cascade"]["after"] == "pgd"
        for r in b.replicates:
            first, both = b.points("pgd", "16/255", r), b.points(key, "16/255", r)
            assert not (both & ~first).any()                   # a point survives the cascade only if PGD spared it
            np.testing.assert_allclose(b.query(key, eps="16/255", replicate=r), both.mean(axis=1))
    again = cli("bench", "cascade", "c.sqlite", "--after", "pgd", "--attack", "apgd-ce", "--eps", "16/255",
                "--keep-weights", "w", "--set", "bench.cascade.params={steps=5, restarts=1}", "--backend", "inprocess")
    assert again.returncode == 0 and "0 runs" in again.stderr  # nothing missing: nothing attacked again
