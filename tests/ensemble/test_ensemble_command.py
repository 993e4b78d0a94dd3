"""``robnas ensemble`` end to end on tiny settings: Table 6 report, resume per network, bad input."""

from __future__ import annotations

import json
import statistics

import pytest
import torch

from robnas.models.ensemble import RandomCellEnsemble
from robnas.train import load_model
from tests.pipeline.conftest import EMPTY_CONFIG, cli  # noqa: F401  (cli is a fixture)

TINY = ["--config", EMPTY_CONFIG, "--dataset", "digits", "--train-size", "120", "--test-size", "20", "--epochs", "2",
        "--batch-size", "40", "--cells", "2,1", "--total-cells", "3", "--runs", "2", "--set", "ensemble.kwargs.C=4",
        "--set", "ensemble.hidden=8", "--set", "ensemble.published=darts_v2", "--attacks", "pgd,apgd-ce",
        "--set", "eval.apgd_steps=5", "--set", "eval.apgd_restarts=1", "--set", "eval.reliability=false", "--quiet"]
MEMBERS = ["ENSEMBLE-1-member-1", "ENSEMBLE-1-member-2", "ENSEMBLE-2-member-1", "ENSEMBLE-2-member-2"]


def one_error_line(proc) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_table6_report_and_resume_per_network(cli, tmp_path):
    cli("ensemble", *TINY, "--eps", "8/255,16/255", "--backend", "inprocess", "--name", "e", check=True)
    run = tmp_path / "runs" / "e"
    report = (run / "results" / "ensemble.md").read_text()
    header = "| Model | # cells | Params | Clean % | PGD | AutoPGD |"
    assert report.count(header) == 2 and "**eps = 16/255**" in report  # a table per radius
    first = report.split("**eps = 16/255**")[0]
    rows = {line.split(" | ")[0].lstrip("| "): line for line in first.splitlines() if line.startswith("| ")}
    assert set(rows) >= {"DARTS_V2", "RANDOM* (2 runs)", "ENSEMBLE† (2 runs)"}
    assert "| 2+1 |" in rows["ENSEMBLE† (2 runs)"]
    # Each group's cells are the mean ± sample standard deviation of its runs' records.
    groups = (("ENSEMBLE† (2 runs)", ["ENSEMBLE-1", "ENSEMBLE-2"]), ("RANDOM* (2 runs)", ["RANDOM-1", "RANDOM-2"]))
    for group, labels in groups:
        records = [json.loads((run / "results" / "records" / f"{label}.json").read_text()) for label in labels]
        for column in (["clean"], ["threat_models", "pgd", "radii", "8/255"],
                       ["threat_models", "apgd-ce", "radii", "8/255"]):
            values = []
            for record in records:
                node = record["evaluation"]
                for key in column:
                    node = node[key]
                values.append(node["accuracy"])
            assert f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}" in rows[group], (group, column)
    # Each member trained for its share of the 2 epochs of a full network: 2 and 1 cells -> 1 and 1 epochs.
    for name, epochs in (("ENSEMBLE-1-member-1", 1), ("ENSEMBLE-1-member-2", 1), ("RANDOM-1", 2), ("DARTS_V2", 2)):
        payload = torch.load(run / "networks" / name / "checkpoints" / "last.pt", weights_only=True)
        assert payload["epoch"] == epochs and payload["complete"]
    # The ensemble's checkpoint is one network that `robnas eval` can load, with its combiner trained 2 epochs.
    model, payload = load_model(run / "networks" / "ENSEMBLE-1" / "checkpoints" / "last.pt")
    assert isinstance(model.net, RandomCellEnsemble) and len(model.net.members) == 2 and payload["epoch"] == 2
    record = json.loads((run / "results" / "records" / "ENSEMBLE-1.json").read_text())
    assert record["cells"] == [2, 1] and set(record["genotypes"]) == {"ENSEMBLE-1-member-1", "ENSEMBLE-1-member-2"}

    # Resume: a finished network is not trained again; a lost one is, and the ensembles are rebuilt from it.
    stamps = {m: (run / "networks" / m / "checkpoints" / "last.pt").stat().st_mtime_ns for m in MEMBERS}
    lost = run / "networks" / "ENSEMBLE-2-member-2"
    for path in sorted(lost.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (run / "results" / "records" / "ENSEMBLE-2.json").unlink()
    cli("ensemble", *TINY, "--eps", "8/255,16/255", "--backend", "inprocess", "--name", "e", "--resume", check=True)
    for m in MEMBERS:
        now = (run / "networks" / m / "checkpoints" / "last.pt").stat().st_mtime_ns
        assert (now != stamps[m]) == (m == "ENSEMBLE-2-member-2"), m
    assert "not trained again" in (run / "log.txt").read_text()


def test_members_train_in_parallel_on_the_process_pool(cli, tmp_path):
    cli("ensemble", *TINY, "--runs", "1", "--set", "ensemble.single=false", "--set", "ensemble.published=[]",
        "--backend", "local", "--workers", "2", "--name", "p", check=True)
    log = (tmp_path / "runs" / "p" / "log.txt").read_text()
    assert "'backend': 'local', 'workers': 2" in log
    assert "ENSEMBLE† " in (tmp_path / "runs" / "p" / "results" / "ensemble.md").read_text()


@pytest.mark.parametrize(("args", "words"), [(["--cells", "2,2"], "sums to 4"),
                                             (["--cells", "3,0"], "at least one cell"),
                                             (["--cells", "2,x"], "ensemble.cells"),
                                             (["--batch-size", "17"], "last batch of one point")])
def test_bad_cell_splits_are_one_line_and_write_nothing(cli, tmp_path, args, words):
    line = one_error_line(cli("ensemble", *TINY, *args))
    assert words in line
    assert not (tmp_path / "runs").exists()


def test_an_ensemble_checkpoint_with_a_missing_member_is_one_line(cli, tmp_path):
    cli("ensemble", *TINY, "--runs", "1", "--set", "ensemble.single=false", "--set", "ensemble.published=[]",
        "--set", "eval.attacks=pgd", "--backend", "inprocess", "--name", "m", check=True)
    payload = torch.load(tmp_path / "runs" / "m" / "networks" / "ENSEMBLE-1" / "checkpoints" / "last.pt",
                         weights_only=True)
    payload["model_state"] = {k: v for k, v in payload["model_state"].items() if not k.startswith("net.members.0.")}
    torch.save(payload, tmp_path / "broken.pt")
    line = one_error_line(cli("eval", "--checkpoint", str(tmp_path / "broken.pt"), "--quiet", "--out", "evals"))
    assert "member 1 of 2" in line
    assert not (tmp_path / "evals").exists()


def test_robnas_run_with_an_ensemble_section_adds_its_rows_and_table(cli, tmp_path):
    # `robnas run` has no --cells/--runs flags: the [ensemble] section's keys are set like any other.
    args = " ".join(TINY).replace("--cells 2,1", "--set ensemble.cells=2,1").replace(
        "--total-cells 3", "--set ensemble.total_cells=3").replace("--runs 2", "--set ensemble.runs=1").split()
    cli("run", *args, "--set", "ensemble.enabled=true", "--set", "ensemble.published=[]",
        "--set", "eval.attacks=pgd", "--set", "ensemble.backend=inprocess", "--name", "r", check=True)
    results = tmp_path / "runs" / "r" / "results"
    assert "ENSEMBLE† " in (results / "ensemble.md").read_text()
    labels = [m["label"] for m in json.loads((results / "results.json").read_text())["models"]]
    assert labels == ["ENSEMBLE-1", "RANDOM-1"]


def test_robnas_run_refuses_ensemble_labels_that_clash_with_its_models(cli, tmp_path):
    # The main job has a DARTS_V2 row; so does the ensemble experiment's published cells.
    line = one_error_line(cli("run", "--set", "ensemble.enabled=true", "--quiet"))
    assert "DARTS_V2" in line and "ensemble.published" in line
    assert not (tmp_path / "runs").exists()
