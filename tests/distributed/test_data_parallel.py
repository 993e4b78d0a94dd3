"""Data-parallel training and search: 2 gloo processes (a real ``torchrun`` launch) against one process.

The same global batches on 1 and 2 processes must give the same weights (and alphas) to float
rounding: standard training with augmentation, PGD adversarial training, an AdvRush search
(first order) and a second-order DARTS search (both over the NB201 supernet, the smaller one). A checkpoint made by 2 processes resumes on 1 and
vice versa, ending where an uninterrupted run ends. A rank that raises stops the job with that
error, without hanging. Two launches in all (each costs seconds of start-up), the rest in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import robnas
from robnas.train.checkpoint import load_checkpoint

from .driver import run_plan

DRIVER = Path(__file__).with_name("driver.py")
COMMON = ["--dataset", "digits", "--threads", "1", "--quiet", "--seed", "3"]
TRAIN = ["train", "--model", "darts_v2", "--kw", "C=4", "--kw", "layers=3", "--batch-size", "32", "--epochs", "2",
         "--set", "train.crop_padding=1", "--set", "train.flip=true", "--train-size", "96", "--test-size", "20",
         *COMMON]
PGD = [*TRAIN, "--adversarial", "--set", "train.adversarial.steps=2", "--epochs", "1"]
# NB201 (1 cell per stage): 42 batch-norm layers against the DARTS supernet's 359, each an all-reduce per pass.
SEARCH = ["search", "--space", "nb201", "--set", "search.differentiable.layers=1", "--set", "search.differentiable.epochs=1", "--set", "search.differentiable.batch_size=16",
          "--set", "search.differentiable.train_size=64", "--train-size", "96", *COMMON]
ADVRUSH = [*SEARCH, "--method", "advrush", "--set", "search.differentiable.advrush.warmup_epochs=0"]
DARTS2 = [*SEARCH, "--method", "darts", "--set", "search.differentiable.order=2"]
# Evaluation of the one-process "std" network (the checkpoint path is filled in per run), in both radius modes.
EVAL = ["eval", "--attacks", "fgsm,pgd,apgd-ce", "--eps", "1/255,8/255,32/255", "--corruptions", "fog,gaussian_noise",
        "--set", "eval.steps=3", "--set", "eval.apgd_steps=5", "--set", "eval.apgd_restarts=1", "--test-size", "20",
        *COMMON]
EVALS = {"eval": EVAL, "eval_nested": [*EVAL, "--set", "eval.mode=nested"]}
# name -> (command, checkpoint file)
RUNS = {"std": (TRAIN, "last.pt"), "pgd": (PGD, "last.pt"), "advrush": (ADVRUSH, "search.pt"),
        "darts2": (DARTS2, "search.pt")}
LAUNCH_TIMEOUT = 150  # seconds: a hang fails the test instead of blocking CI


def _argv(command: list[str], out: Path, name: str, *extra: str) -> list[str]:
    return [*command, "--out", str(out), "--name", name, *extra]


def _launch(plan: list[dict], tmp_path: Path, name: str) -> subprocess.CompletedProcess:
    plan_path = tmp_path / f"{name}.json"
    plan_path.write_text(json.dumps(plan))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ROBNAS_DIST_TIMEOUT": "60",
           "PYTHONPATH": os.pathsep.join([str(Path(robnas.__file__).parents[1]), str(DRIVER.parents[2])])}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           "-m", "tests.distributed.driver", str(plan_path)],
                          env=env, cwd=DRIVER.parents[2], capture_output=True, text=True, timeout=LAUNCH_TIMEOUT)


def _state(out: Path, name: str, checkpoint: str) -> dict[str, torch.Tensor]:
    return load_checkpoint(out / name / "checkpoints" / checkpoint)["model_state"]


def _assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if a[key].is_floating_point():
            torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=2e-5, msg=lambda m, k=key: f"{k}: {m}")
        else:
            assert torch.equal(a[key], b[key]), key


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One process (in this process) and two (one torchrun launch) on the same settings."""
    tmp = tmp_path_factory.mktemp("ddp")
    one, two = tmp / "one", tmp / "two"
    plan_one = [{"argv": _argv(cmd, one, name)} for name, (cmd, _) in RUNS.items()]
    # A 1-process checkpoint after epoch 1 that the 2-process launch resumes.
    plan_one.append({"argv": _argv(TRAIN, two, "one_then_two"), "stop_after_epoch": 1})
    assert run_plan(plan_one) == 0
    trained = ["--checkpoint", str(one / "std" / "checkpoints" / "last.pt")]
    assert run_plan([{"argv": _argv([*cmd, *trained], one, name)} for name, cmd in EVALS.items()]) == 0
    plan_two = [{"argv": _argv(cmd, two, name)} for name, (cmd, _) in RUNS.items()]
    plan_two += [{"argv": _argv([*cmd, *trained], two, name)} for name, cmd in EVALS.items()]
    plan_two += [{"argv": _argv(TRAIN, two, "one_then_two", "--resume")},
                 {"argv": _argv(TRAIN, one, "two_then_one"), "stop_after_epoch": 1}]
    launch = _launch(plan_two, tmp, "plan_two")
    assert launch.returncode == 0, launch.stderr[-3000:]
    # ... and the 2-process checkpoint resumed by one process.
    assert run_plan([{"argv": _argv(TRAIN, one, "two_then_one", "--resume")}]) == 0
    return one, two, launch


@pytest.mark.parametrize("name", sorted(RUNS))
def test_two_processes_compute_what_one_computes(runs, name):
    one, two, _ = runs
    checkpoint = RUNS[name][1]
    _assert_same_weights(_state(one, name, checkpoint), _state(two, name, checkpoint))
    if checkpoint == "search.pt":
        alphas_one = json.loads((one / name / "results" / "search.json").read_text())["raw_alphas"]
        alphas_two = json.loads((two / name / "results" / "search.json").read_text())["raw_alphas"]
        for key in alphas_one:
            torch.testing.assert_close(torch.tensor(alphas_one[key]), torch.tensor(alphas_two[key]),
                                       rtol=1e-4, atol=1e-6)
    history_one = [json.loads(line) for line in (one / name / "metrics.jsonl").read_text().splitlines()]
    history_two = [json.loads(line) for line in (two / name / "metrics.jsonl").read_text().splitlines()]
    assert len(history_one) == len(history_two) >= 1
    if name == "advrush":  # the curvature term took part in both
        assert history_one[-1]["arch_steps"] == history_two[-1]["arch_steps"] == 2
        assert history_one[-1]["advrush"] == pytest.approx(history_two[-1]["advrush"], rel=1e-3)


def _records(out: Path, name: str) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text())["evaluation"] for p in (out / name / "results" / "records").glob("*.json")}


def _strip_float_noise(record: dict) -> dict:
    """The record without confidences and timings (lockstep batches differ between the ranks' shares)."""
    if isinstance(record, dict):
        return {k: _strip_float_noise(v) for k, v in record.items() if k not in ("confidence", "seconds")}
    return record


@pytest.mark.parametrize("name", sorted(EVALS))
def test_two_processes_evaluate_what_one_evaluates(runs, name):
    one, two, _ = runs
    alone, shared = _records(one, name), _records(two, name)
    assert alone.keys() == shared.keys() and len(alone) == 1
    for label in alone:
        assert _strip_float_noise(shared[label]) == _strip_float_noise(alone[label])
        assert shared[label]["mode"] == ("nested" if name == "eval_nested" else "independent")
        for key, tm in alone[label]["threat_models"].items():
            for eps, measures in tm["radii"].items():
                assert shared[label]["threat_models"][key]["radii"][eps]["confidence"] == pytest.approx(
                    measures["confidence"], rel=1e-5)
    assert (two / name / "results" / "table.md").read_text() == (one / name / "results" / "table.md").read_text()


def test_a_checkpoint_resumes_on_another_world_size(runs):
    one, two, _ = runs
    reference = _state(one, "std", "last.pt")
    _assert_same_weights(reference, _state(two, "one_then_two", "last.pt"))  # made by 1, finished by 2
    _assert_same_weights(reference, _state(one, "two_then_one", "last.pt"))  # made by 2, finished by 1
    for out, name in ((two, "one_then_two"), (one, "two_then_one")):
        assert [r["epoch"] for r in map(json.loads, (out / name / "metrics.jsonl").read_text().splitlines())] == [1, 2]


def test_only_rank_zero_writes(runs):
    _, two, launch = runs
    assert launch.stdout.count("results: ") == len(RUNS) + len(EVALS) + 1  # one line per command, not one per rank
    log = (two / "std" / "log.txt").read_text()
    assert log.count("epoch=1 ") == 1 and "x 2 processes" in log


def test_bad_input_and_a_failing_rank_stop_the_job_with_their_error(tmp_path):
    plan = [{"argv": _argv([*TRAIN, "--batch-size", "33"], tmp_path / "out", "odd")},
            {"argv": _argv(TRAIN, tmp_path / "out", "fails"), "fail_on_rank": 1}]
    launch = _launch(plan, tmp_path, "fails")  # the timeout turns a hang into a failure
    assert launch.returncode != 0
    odd = ("error: train.batch_size=33 is the global batch and must be a multiple of the 2 processes; "
           "use 32 or 34 (--set train.batch_size=...)")
    assert launch.stderr.count(odd) == 2 and not (tmp_path / "out" / "odd").exists()  # nothing written
    assert "rank 1 failed on purpose" in launch.stderr
