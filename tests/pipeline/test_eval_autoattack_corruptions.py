"""`robnas eval` end to end with the AutoAttack composite and the 15 x 5 common corruptions."""

from __future__ import annotations

import json

from robnas.corruptions import list_corruptions
from tests.pipeline.conftest import TINY_EVAL


def test_eval_autoattack_cumulative_and_all_corruptions(cli, tmp_path):
    # At the unbounded radius APGD-CE breaks every point, so the later members (5000-query Square
    # included) have nothing left to attack: the wiring is tested at the standard budgets, cheaply.
    res = cli("eval", "--model", "resnet18", "--kw", "width=2", "--label", "r18", *TINY_EVAL,
              "--attacks", "fgsm,autoattack", "--eps", "255/255", "--set", "eval.hrs_attack=fgsm",
              "--corruptions", "all", "--name", "aa", check=True)
    results = tmp_path / "runs" / "aa" / "results"
    assert res.stdout.strip() == f"results: {results}"
    record = json.loads((results / "results.json").read_text())["models"][0]["evaluation"]
    entry = record["threat_models"]["autoattack"]["radii"]["255/255"]
    assert list(entry["cumulative"]) == ["apgd-ce", "apgd-t", "fab-t", "square"]
    steps = list(entry["cumulative"].values())
    assert all(a >= b for a, b in zip(steps, steps[1:])) and steps[-1] == entry["accuracy"] == 0.0
    assert record["worst_case"]["Linf"]["255/255"] <= entry["accuracy"]
    corruptions = record["corruptions"]
    assert sorted(corruptions) == sorted(list_corruptions()) and len(corruptions) == 15
    assert all(list(c) == ["1", "2", "3", "4", "5"] and all(0 <= s["accuracy"] <= 100 for s in c.values())
               for c in corruptions.values())
    table = (results / "table.md").read_text()
    assert "| FGSM | AutoAttack | Worst case |" in table
    assert "AutoAttack cumulative robust accuracy %" in table and "APGD-CE 0.00 -> APGD-T 0.00" in table
    assert "Common corruptions" in table and "jpeg_compression" in table


def test_eval_autoattack_rand_from_the_command_line(cli, tmp_path):
    """The rand version (APGD-CE and APGD-DLR with 20 EOT passes) runs from the CLI as a threat model."""
    res = cli("eval", "--model", "resnet18", "--kw", "width=2", "--label", "r18", *TINY_EVAL, "--test-size", "12",
              "--attacks", "fgsm,autoattack-rand", "--eps", "8/255", "--set", "eval.hrs_attack=fgsm",
              "--name", "rand", check=True)
    results = tmp_path / "runs" / "rand"
    record = json.loads((results / "results" / "results.json").read_text())["models"][0]["evaluation"]
    entry = record["threat_models"]["autoattack-rand"]["radii"]["8/255"]
    assert list(entry["cumulative"]) == ["apgd-ce", "apgd-dlr"]
    assert entry["accuracy"] <= record["clean"]["accuracy"] and entry["queries"] > 0
    assert record["worst_case"]["Linf"]["8/255"] <= entry["accuracy"]
