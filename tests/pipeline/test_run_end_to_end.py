"""`robnas run`, `robnas train --resume` and `robnas eval` end to end on a tiny budget."""

from __future__ import annotations

import json
import os
import signal
import time

import torch

from tests.pipeline.conftest import EMPTY_CONFIG, TINY_RUN, robnas_subprocess

TINY_MODELS = [
    "--set", 'models=[{name="darts_v2", label="DARTS_V2", kwargs={C=4, layers=3}}, '
             '{name="resnet18", label="ResNet-18", kwargs={width=4}}]',
]


def test_run_writes_table1_report_and_resumes(cli, tmp_path):
    proc = cli("run", "--config", EMPTY_CONFIG, *TINY_RUN, *TINY_MODELS, "--eps", "2/255,8/255", "--baseline", "ResNet-18", "--name", "r",
               check=True)
    results = tmp_path / "runs" / "r" / "results"
    assert f"results: {results}" in proc.stdout or str(results) in proc.stdout
    report = json.loads((results / "results.json").read_text())
    assert [m["label"] for m in report["models"]] == ["DARTS_V2", "ResNet-18"]
    for m in report["models"]:
        ev = m["evaluation"]
        assert set(ev["threat_models"]) == {"fgsm", "ffgsm", "pgd", "apgd-ce"}
        for eps in ("2/255", "8/255"):
            accs = [t["radii"][eps]["accuracy"] for t in ev["threat_models"].values()]
            # the worst case is at most every single attack, and every attack at most clean accuracy
            assert ev["worst_case"]["Linf"][eps] <= min(accs) + 1e-9
            assert max(accs) <= ev["clean"]["accuracy"] + 1e-9
        assert m["params"] > 0 and m["flops"] > 0
    table = (results / "table.md").read_text()
    for title in ("Model", "Params", "Clean %", "FGSM", "F-FGSM", "PGD", "AutoPGD", "HRS", "PP-HRS"):
        assert title in table
    png = (results / "clean_vs_pgd.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "runs" / "r" / "config.toml").exists()
    # a resumed, finished run re-reads the records instead of retraining
    before = (results / "results.json").read_text()
    proc = cli("run", "--config", EMPTY_CONFIG, *TINY_RUN, *TINY_MODELS, "--eps", "2/255,8/255", "--baseline", "ResNet-18", "--name", "r",
               "--resume", check=True)
    assert json.loads((results / "results.json").read_text())["models"] == json.loads(before)["models"]


def _train_args(name: str) -> list[str]:
    return ["train", "--model", "resnet18", "--kw", "width=4", "--train-size", "300", "--test-size", "50",
            "--epochs", "4", "--batch-size", "32", "--set", "train.crop_padding=1", "--set", "train.flip=true",
            "--name", name, "--quiet"]


def test_resume_after_kill_equals_uninterrupted(cli, tmp_path):
    cli(*_train_args("full"), check=True)
    full = torch.load(tmp_path / "runs" / "full" / "checkpoints" / "last.pt", weights_only=True)

    proc = robnas_subprocess(*_train_args("killed"), cwd=tmp_path)
    metrics = tmp_path / "runs" / "killed" / "metrics.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed; make it longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = torch.load(tmp_path / "runs" / "killed" / "checkpoints" / "last.pt", weights_only=True)
    assert 2 <= partial["epoch"] < 4

    cli(*_train_args("killed"), "--resume", check=True)
    resumed = torch.load(tmp_path / "runs" / "killed" / "checkpoints" / "last.pt", weights_only=True)
    assert resumed["epoch"] == 4 and resumed["complete"]
    for key, value in full["model_state"].items():
        assert torch.equal(value, resumed["model_state"][key]), key
    lines = [json.loads(x) for x in metrics.read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3, 4]


def test_eval_checkpoints_with_baseline(cli, tmp_path):
    cli("train", "--model", "resnet18", "--kw", "width=4", "--label", "R18", "--train-size", "200",
        "--test-size", "40", "--epochs", "1", "--name", "a", "--quiet", check=True)
    ckpt = str(tmp_path / "runs" / "a" / "checkpoints" / "last.pt")
    proc = cli("eval", "--checkpoint", ckpt, "--model", "resnet18", "--kw", "width=4", "--test-size", "40",
               "--attacks", "fgsm,pgd", "--eps", "8/255", "--baseline", "R18", "--name", "e", "--quiet", check=True)
    table = (tmp_path / "runs" / "e" / "results" / "table.md").read_text()
    assert "R18" in table and "PP-HRS" in table
    assert "results:" in proc.stdout
