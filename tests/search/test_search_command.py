"""``robnas search`` (differentiable methods): bad input, outputs, and bit-identical resume after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from robnas.cli import main
from robnas.models import create_model

# Tiny but complete: every RNAS phase (warm-up epoch, search iterations, projection iterations) runs.
TINY = ["--dataset", "digits", "--threads", "1", "--set", "search.differentiable.train_size=96",
        "--set", "search.differentiable.batch_size=24", "--set", "search.differentiable.epochs=4",
        "--set", "search.differentiable.layers=1",
        "--set", "search.differentiable.rnas.steps=1", "--set", "search.differentiable.rnas.warmup_epochs=1",
        "--set", "search.differentiable.rnas.projection_iters=2", "--set", "search.differentiable.rnas.bound=1e-6"]

BAD = [
    (["--space", "macro"], "search space"),
    (["--space", "darts", "--method", "sgd"], "unknown search method"),
    (["--method", "advrush", "--set", "search.differentiable.advrush.gamma=-0.1"], "gamma"),
    (["--method", "rnas", "--set", "search.differentiable.rnas.bound=-1"], "bound"),
    (["--method", "rnas", "--set", "search.differentiable.rnas.eps=-0.1"], "eps"),
    (["--set", "search.differentiable.order=3"], "order"),
    (["--set", "search.differentiable.partial_channels=3"], "partial_channels"),
    (["--set", "search.differentiable.layers=2"], "layers"),
    (["--set", "search.differentiable.bogus=1"], "bogus"),
    (["--set", "search.differentiable.train_size=100000"], "out of range"),
]


def _run_in_process(args: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(args)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("args,needle", BAD, ids=[b[1] for b in BAD])
def test_bad_input_is_one_line_exit_2_and_no_run_dir(tmp_path, capsys, args, needle):
    code, err = _run_in_process(["search", *args, "--out", str(tmp_path / "runs"), "--quiet"], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert needle.lower() in lines[0].lower(), lines[0]
    assert not (tmp_path / "runs").exists()


def _args(tmp_path: Path, name: str, *extra: str) -> list[str]:
    return ["search", "--space", "nb201", "--method", "rnas", *TINY, "--out", str(tmp_path), "--name", name,
            "--quiet", *extra]


def _final_state(run: Path) -> tuple[str, dict[str, torch.Tensor]]:
    state = torch.load(run / "checkpoints" / "search.pt", weights_only=True)
    alphas = {k: v for k, v in state["model_state"].items() if k.startswith(("alphas", "betas"))}
    return (run / "results" / "genotype.txt").read_text(), alphas


def _kill_after_first_checkpoint(victim: subprocess.Popen, checkpoint: Path, outcome: dict) -> None:
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    outcome["alive"] = victim.poll() is None
    victim.send_signal(signal.SIGKILL)
    victim.wait()


def test_kill_9_then_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path, capsys):
    # A real process is killed with SIGKILL once epoch 1's checkpoint exists; meanwhile (second core)
    # the uninterrupted reference runs in-process, and so does the resumption (no second interpreter start).
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    victim = subprocess.Popen([sys.executable, "-m", "robnas.cli", *_args(tmp_path, "victim")], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = tmp_path / "victim" / "checkpoints" / "search.pt"
    outcome: dict = {}
    watcher = threading.Thread(target=_kill_after_first_checkpoint, args=(victim, checkpoint, outcome))
    watcher.start()
    try:
        assert _run_in_process(_args(tmp_path, "reference"), capsys)[0] == 0
    finally:
        watcher.join()
    assert outcome["alive"], "the run finished before it could be killed; make it longer"
    assert not torch.load(checkpoint, weights_only=True)["complete"]
    code, err = _run_in_process(_args(tmp_path, "victim", "--resume"), capsys)
    assert code == 0, err

    genotype, alphas = _final_state(tmp_path / "reference")
    genotype_resumed, alphas_resumed = _final_state(tmp_path / "victim")
    assert genotype_resumed == genotype
    assert alphas.keys() == alphas_resumed.keys() and all(torch.equal(alphas[k], alphas_resumed[k]) for k in alphas)

    # The outputs of a finished search.
    results = tmp_path / "reference" / "results"
    for name in ("genotype.txt", "cells.png", "alphas.png", "search.json"):
        assert (results / name).stat().st_size > 0, name
    summary = json.loads((results / "search.json").read_text())
    assert summary["genotype"] == genotype.strip() and summary["method"] == "rnas"
    records = [json.loads(line) for line in (tmp_path / "victim" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert records[0]["arch_steps"] == 0 and records[1]["arch_steps"] > 0  # Phase I updates the weights only
    assert "rnas_vulnerability" in records[1] and len(records[1]["alphas"]["alphas"]) == 6
    assert create_model("nb201", arch=genotype.strip(), C=4, N=1, in_channels=1)(torch.rand(2, 1, 8, 8)).shape == (2, 10)
