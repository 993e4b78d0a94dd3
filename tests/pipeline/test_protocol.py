"""`robnas eval --protocol jung`: the robustness-dataset grid, its result layout and its report."""

from __future__ import annotations

import json

import pytest
import torch

from robnas.eps import Eps
from robnas.evaluation import PROTOCOLS, Protocol, ThreatModel, get_protocol
from robnas.errors import UnknownNameError
from robnas.bench.layout import read_measure
from tests.pipeline.conftest import TINY_EVAL


def _float32(value):
    return torch.tensor(value, dtype=torch.float32).item() if isinstance(value, float) else value


def test_the_jung_grid_is_the_papers():
    grid = {tm.key: tm for tm in get_protocol("jung").threat_models}
    assert list(grid) == ["fgsm@Linf", "pgd@Linf", "aa_apgd-ce@Linf", "aa_square@Linf"]
    assert [e.in_255 for e in grid["fgsm@Linf"].radii] == [0.1, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 255]
    for key in ("pgd@Linf", "aa_apgd-ce@Linf", "aa_square@Linf"):
        assert [e.in_255 for e in grid[key].radii] == [0.1, 0.5, 1, 2, 3, 4, 8]
        assert all(tm.norm == "Linf" for tm in grid.values())
    assert grid["aa_apgd-ce@Linf"].params["steps"] == 100 and grid["aa_square@Linf"].params["queries"] == 5000
    # The attack parameters at each radius are those of the grid before protocols were data (e/255 in floats),
    # up to the double rounding of e/255 for e = 0.1 (one ulp): the float32 values the attacks compute with agree.
    for e in (0.1, 0.5, 1, 2, 3, 4, 8):
        eps = Eps.from_255(e)
        old = {"fgsm@Linf": {"eps": e / 255, "seed": 3},
               "pgd@Linf": {"eps": e / 255, "seed": 3, "steps": 10, "norm": "Linf", "alpha": e / 255 / 4},
               "aa_apgd-ce@Linf": {"eps": e / 255, "seed": 3, "steps": 100, "restarts": 1, "norm": "Linf"},
               "aa_square@Linf": {"eps": e / 255, "seed": 3, "queries": 5000, "norm": "Linf",
                                  "rescale_schedule": False}}
        for key, params in old.items():
            new = grid[key].parameters(eps, 3)
            assert new == params or e == 0.1
            assert {k: _float32(v) for k, v in new.items()} == {k: _float32(v) for k, v in params.items()}
    with pytest.raises(UnknownNameError, match="unknown protocol 'nope'.*advrush, devaguptapu, jung, jung-digits, rnas"):
        get_protocol("nope")


@pytest.fixture
def small_grid(monkeypatch):
    """The jung protocol's shape with budgets a unit test can afford (the wiring is what is tested)."""
    grid = (ThreatModel("fgsm", "Linf", ("1/255", "8/255", "255/255"), key="fgsm@Linf"),
            ThreatModel("pgd", "Linf", ("1/255", "8/255"), {"steps": 3}, key="pgd@Linf"),
            ThreatModel("apgd-ce", "Linf", ("1/255", "8/255"), {"steps": 5, "restarts": 1}, key="aa_apgd-ce@Linf"))
    monkeypatch.setitem(PROTOCOLS._entries, "jung", Protocol("jung", grid))
    return grid


def test_eval_protocol_writes_the_dataset_layout(cli, tmp_path, small_grid):
    res = cli("eval", "--model", "resnet18", "--kw", "width=2", "--label", "r18", "--protocol", "jung",
              *TINY_EVAL, "--name", "grid", check=True)
    results = tmp_path / "runs" / "grid" / "results"
    assert res.stdout.strip() == f"results: {results}"
    layout = results / "robustness" / "digits"
    meta = json.loads((layout / "meta.json").read_text())
    assert meta["epsilons"] == {"fgsm@Linf": [1, 8, 255], "pgd@Linf": [1, 8], "aa_apgd-ce@Linf": [1, 8]}
    assert "r18" in meta["ids"]
    fgsm = read_measure(results / "robustness", "digits", "fgsm@Linf", "accuracy")["r18"]
    assert len(fgsm) == 3 and all(0 <= a <= 100 for a in fgsm)
    cm = read_measure(results / "robustness", "digits", "pgd@Linf", "cm")["r18"]
    assert len(cm) == 2 and sum(map(sum, cm[0])) == 60
    clean = read_measure(results / "robustness", "digits", "clean", "accuracy")["r18"]
    assert isinstance(clean, float)
    assert (layout / "aa_apgd-ce@Linf_confidence.json").exists()
    table = (results / "table.md").read_text()
    assert "*fgsm@Linf*" in table and "| r18 |" in table and "Reliability checks" in table
    record = json.loads((results / "results.json").read_text())["models"][0]["evaluation"]
    pgd = record["threat_models"]["pgd@Linf"]["radii"]
    assert list(pgd) == ["1/255", "8/255"] and pgd["8/255"]["accuracy"] <= pgd["1/255"]["accuracy"]


def test_unknown_protocol_is_one_error_line_and_no_run(cli, tmp_path):
    res = cli("eval", "--model", "resnet18", "--protocol", "madry", "--quiet")
    assert res.returncode == 2
    assert res.stderr.strip() == ("error: unknown protocol 'madry'; choose one of: advrush, devaguptapu, jung, jung-digits, "
                                  "rnas (`robnas list protocols` shows them)")
    assert not (tmp_path / "runs").exists()


def test_transfer_command(cli, tmp_path):
    res = cli("transfer", "--model", "resnet18", "--model", "preact_resnet18", "--kw", "width=2", "--steps", "2",
              *TINY_EVAL, "--name", "tr", check=True)
    results = tmp_path / "runs" / "tr" / "results"
    assert res.stdout.strip() == f"results: {results}"
    data = json.loads((results / "transfer.json").read_text())
    assert data["sources"] == ["resnet18", "preact_resnet18"] and data["attack"]["steps"] == 2
    assert (results / "transfer.png").exists()
    bad = cli("transfer", "--model", "resnet18", "--quiet", "--name", "one")
    assert bad.returncode == 2 and "at least two models" in bad.stderr
    assert not (tmp_path / "runs" / "one").exists()


def test_advset_build_then_eval(cli, tmp_path):
    built = cli("advset", "build", "--model", "resnet18", "--kw", "width=2", "--attacks", "fgsm,pgd",
                "--thresholds", "8,64", "--advset", "sets/a", *TINY_EVAL, check=True)
    assert built.stdout.strip().endswith(str(tmp_path / "sets" / "a"))
    manifest = json.loads((tmp_path / "sets" / "a" / "manifest.json").read_text())
    assert manifest["thresholds"] == [8.0, 64.0] and len(manifest["cells"]) == 4
    again = cli("advset", "build", "--model", "resnet18", "--advset", "sets/a", "--quiet")
    assert again.returncode == 2 and "already exists" in again.stderr
    scored = cli("advset", "eval", "--model", "resnet18", "--kw", "width=2", "--advset", "sets/a", "--quiet",
                 "--name", "score", check=True)
    data = json.loads((tmp_path / "runs" / "score" / "results" / "advset_scores.json").read_text())
    assert data["models"]["resnet18"]["n"] == manifest["total"]
    assert scored.returncode == 0


@pytest.mark.parametrize("attacks, hrs", [("fgsm", "fgsm"), ("fgsm,pgd-3", "pgd-3"), ("fgsm,pgd,pgd-3", "pgd")])
def test_an_ad_hoc_suite_gets_its_hrs_from_an_attack_it_has(cli, tmp_path, attacks, hrs):
    """HRS comes from PGD as in the paper when the suite has it, else from the suite's first attack, and the
    record names it; an explicit eval.hrs_attack outside the suite stays an error (see the bad-input walk)."""
    cli("eval", "--model", "resnet18", "--kw", "width=2", "--attacks", attacks, "--eps", "8/255", "--set",
        "eval.steps=2", *TINY_EVAL, "--test-size", "20", "--name", "h", check=True)
    record = json.loads((tmp_path / "runs" / "h" / "results" / "results.json").read_text())["models"][0]
    assert record["evaluation"]["hrs"]["key"] == hrs
    assert f"HRS from {hrs.upper()}" in (tmp_path / "runs" / "h" / "results" / "table.md").read_text()


def test_a_benchmark_build_with_an_fgsm_suite_records_its_hrs(cli, tmp_path):
    import robnas.bench

    cli("bench", "build", "b.sqlite", "--only", "0", "--protocol", "eval", "--attacks", "fgsm", "--eps", "8/255",
        "--backend", "inprocess", "--quiet", check=True)
    with robnas.bench.open(tmp_path / "b.sqlite") as bench:
        assert bench.meta["protocol"]["hrs"] == "fgsm" and "HRS from fgsm" in bench.meta["protocol"]["description"]
