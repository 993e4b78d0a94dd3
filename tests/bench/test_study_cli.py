"""`robnas bench correlate | nas | design | study` end to end from the command line, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import kendalltau

import robnas.bench

INPROCESS = ["--backend", "inprocess", "--quiet"]


def test_correlate_writes_tables_heatmaps_and_reports_nan_proxies(cli, tmp_path, sample_bench):
    cli("bench", "correlate", str(sample_bench), *INPROCESS, "--set", "bench.correlate.bootstrap=30",
        "--set", "bench.correlate.top_percent=20", "--name", "c", check=True)
    results = tmp_path / "runs" / "c" / "results"
    for name in ("report.md", "correlation.json", "correlation.csv", "correlation_attacks.png",
                 "correlation_attacks_top.png", "correlation_corruptions.png", "correlation_corruptions_top.png"):
        assert (results / name).stat().st_size > 0, name
    data = json.loads((results / "correlation.json").read_text())
    everything, top = data["groups"]
    assert (everything["architectures"], top["architectures"]) == (300, 60)
    rows = [r["label"] for r in everything["rows"]]
    columns = [c["label"] for c in everything["columns"]]
    assert rows[:3] == ["clean", "curvature@init", "curvature@trained"]   # robustness proxies first
    assert columns[:2] == ["clean", "fgsm 0.1/255"] and columns[-1] == "corruption mean"
    i, j = rows.index("jacobian@trained"), columns.index("pgd 2/255")
    with robnas.bench.open(sample_bench) as bench:
        expected = kendalltau(-bench.query("proxy:jacobian@trained", "value"), bench.query("pgd@Linf", eps="2/255"))
    assert everything["tau"][i][j] == pytest.approx(expected.statistic, abs=1e-6)
    assert everything["low"][i][j] <= everything["tau"][i][j] <= everything["high"][i][j]
    nan = everything["missing"]["jacob_cov@init"]
    assert nan["count"] == 3 and len(nan["archs"]) == 3
    assert everything["n"][rows.index("jacob_cov@init")][0] == 297
    report = (results / "report.md").read_text()
    assert "jacob_cov@init: NaN on 3 architectures" in report and "positive tau means" in report


def test_design_report(cli, tmp_path, sample_bench):
    cli("bench", "design", str(sample_bench), "--quiet", "--name", "d", check=True)
    results = tmp_path / "runs" / "d" / "results"
    data = json.loads((results / "design.json").read_text())
    assert data["grouped_by"] == "params" and sum(g["architectures"] for g in data["groups"]) == 300
    assert len(data["frequencies"]["top"]) == 6 and data["frequencies"]["size"] == 30
    assert all(g["min"] <= g["median"] <= g["max"] for g in data["groups"])
    assert (results / "design_params.png").exists() and (results / "design_top.png").exists()
    assert "Operation frequency" in (results / "report.md").read_text()


def test_nas_table_with_a_differentiable_search(cli, tmp_path, full_bench):
    cli("bench", "nas", str(full_bench), *INPROCESS, "--set", "bench.nas.runs=3", "--set", "bench.nas.queries=12",
        "--set", "bench.nas.strategy_params={bananas={steps=20,ensemble=2,candidates=20},nsga2={population_size=6,"
        "offspring=6}}", "--set", "bench.nas.differentiable=[\"darts\"]", "--set", "bench.nas.differentiable_seeds=1",
        "--set", "bench.nas.differentiable_search={epochs=1,train_size=64,C=4}", "--name", "n", check=True)
    results = tmp_path / "runs" / "n" / "results"
    data = json.loads((results / "nas.json").read_text())
    block, on_clean = data["blocks"]  # Jung et al.'s Table 1: search on FGSM accuracy, and on clean accuracy
    assert block["objective"].startswith("robust_error:fgsm@")               # FGSM at the reference radius
    assert [r["method"] for r in block["rows"]] == ["rs", "ls", "re", "bananas", "nsga2", "darts"]
    assert on_clean["objective"] == "clean_error"
    assert [r["method"] for r in on_clean["rows"]] == ["rs", "ls", "re", "bananas", "darts"]  # nsga2: 2nd = 1st
    assert any("nsga2 skipped" in note for note in on_clean["notes"])
    assert block["columns"][0] == "clean" and block["columns"][-1] == "corruption mean"
    with robnas.bench.open(full_bench) as bench:
        clean = bench.query("clean")
        rs_found = [bench.lookup(a) for a in block["found"]["rs"]]
        assert block["rows"][0]["cells"][0][0] == pytest.approx(100 * np.mean(clean[rs_found]))
        assert block["optimum"][0] == pytest.approx(100 * clean.max())
        (darts,) = data["differentiable"]
        assert bench.lookup(darts["arch"]) == darts["row"]
    assert (tmp_path / "runs" / "n" / "differentiable" / "darts-seed0" / "results" / "genotype.txt").exists()
    assert (results / "nas_anytime.png").exists() and "| optimum |" in (results / "nas_table.md").read_text()


def test_study_writes_one_report(cli, tmp_path, full_bench):
    cli("bench", "study", str(full_bench), *INPROCESS, "--set", "bench.nas.runs=2", "--set", "bench.nas.queries=10",
        "--set", "bench.nas.strategies=[\"rs\",\"ls\"]", "--set", "bench.nas.differentiable_seeds=0",
        "--set", "bench.correlate.bootstrap=5", "--set", "bench.correlate.proxies=[\"jacobian\"]", "--name", "s",
        check=True)
    results = tmp_path / "runs" / "s" / "results"
    report = (results / "report.md").read_text()
    for title in ("## Main results", "## Rank correlation", "## NAS on the benchmark", "## Architecture design"):
        assert title in report
    for figure in ("correlation_attacks.png", "nas_anytime.png", "design_params.png", "design_top.png"):
        assert f"({figure})" in report and (results / figure).exists()
    main = (results / "main_table.md").read_text()
    assert "| optimum |" in main and "Which predictors rank" in main


@pytest.mark.parametrize("action, extra, message", [
    ("correlate", ["--set", "bench.correlate.proxies=[\"nope\"]"], "has no proxy 'nope'"),
    ("correlate", ["--set", "bench.correlate.top_percent=0.3"], "raise bench.correlate.top_percent"),
    ("correlate", ["--set", "bench.correlate.bootstrap=-1"], "bench.correlate.bootstrap must be >= 0"),
    ("nas", ["--set", "bench.nas.objectives=[\"robust_error:fgsm@9/255\"]"], "not 9/255"),
    ("nas", ["--set", "bench.nas.objectives=[\"corruption_error:frost\"]"], "has no corruption 'frost'"),
    ("nas", [], "holds 300 of the 6466 nb201 architectures"),
    ("design", ["--set", "bench.design.decile=0"], "bench.design.decile"),
    ("study", ["--set", "bench.nas.runs=0"], "bench.nas.runs"),
])
def test_bad_input_is_one_line_and_writes_nothing(cli, tmp_path, sample_bench, action, extra, message):
    result = cli("bench", action, str(sample_bench), *(INPROCESS if action != "design" else ["--quiet"]), *extra)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_benchmark_without_the_measure_asked_for(cli, tmp_path, full_bench):
    for action, extra, message in [
            ("correlate", ["--set", "bench.correlate.proxies=[\"hessian\"]"], "has no proxy 'hessian'"),
            ("nas", ["--set", "bench.nas.objectives=[\"proxy:curvature@init\"]"], "has no 'proxy:curvature@init'"),
            ("nas", ["--set", "bench.nas.strategies=[\"rs\",\"sa\"]"], "unknown strategy 'sa'"),
            ("nas", ["--set", "bench.nas.second_objective=robust_error:square@1/255"], "has no attack 'square'")]:
        result = cli("bench", action, str(full_bench), *INPROCESS, *extra)
        assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    for args in (["correlate"], ["design", "a.sqlite", "b.sqlite"], ["nas", "missing.sqlite"]):
        result = cli("bench", *args, *INPROCESS)
        assert result.returncode == 2 and result.stderr.startswith("error: "), result.stderr
    assert not (tmp_path / "runs").exists()
