"""Plugins: a package installed into the environment extends robnas without editing it.

The toy plugin (``tests/plugins/robnas_toy_plugin``) is installed the way pip installs a package --
its module plus a ``.dist-info`` with an entry point in the group ``robnas.plugins`` -- into a fresh
directory on the subprocess's path, and its model, attack, strategy and search term are used from
the real ``robnas`` command line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def install(site: Path, name: str, module_dir: Path | None, module: str) -> None:
    """A minimal installed distribution: the module (if given) and its dist-info with the entry point."""
    if module_dir is not None:
        shutil.copytree(module_dir, site / module_dir.name)
    info = site / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[robnas.plugins]\n{name} = {module}\n")


def robnas(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path]), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "robnas.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site")
    install(site, "robnas-toy-plugin", HERE / "robnas_toy_plugin", "robnas_toy_plugin")
    return site


def test_plugin_components_are_listed(site, tmp_path):
    for kind, name in (("models", "toy_mlp"), ("models", "toy_timm"), ("attacks", "toy-noise"),
                       ("strategies", "toy-first"), ("terms", "toy-alpha-l2")):
        proc = robnas(site, tmp_path, "list", kind)
        assert proc.returncode == 0, proc.stderr
        assert name in proc.stdout.split()


def test_plugin_model_attack_strategy_and_term_run_from_the_cli(site, tmp_path):
    tiny = ["--train-size", "100", "--test-size", "40", "--quiet"]
    trained = robnas(site, tmp_path, "train", "--model", "toy_mlp", "--epochs", "1", "--name", "t", *tiny)
    assert trained.returncode == 0, trained.stderr
    evaluated = robnas(site, tmp_path, "eval", "--checkpoint", "runs/t/checkpoints/last.pt", "--attacks",
                       "toy-noise,pgd", "--set", "eval.hrs_attack=pgd", "--name", "e", "--test-size", "40", "--quiet")
    assert evaluated.returncode == 0, evaluated.stderr
    record = json.loads((tmp_path / "runs" / "e" / "results" / "results.json").read_text())["models"][0]
    assert record["model"] == "toy_mlp" and "toy-noise" in json.dumps(record)
    searched = robnas(site, tmp_path, "search", "--method", "toy-first", "--space", "nb201", "--objectives", "params",
                      "--evaluations", "3", "--backend", "inprocess", "--name", "s", *tiny)
    assert searched.returncode == 0, searched.stderr
    best = json.loads((tmp_path / "runs" / "s" / "results" / "best.json").read_text())
    assert len(best["architectures"]) == 3
    termed = robnas(site, tmp_path, "search", "--method", "darts", "--space", "nb201", "--name", "d", "--train-size",
                    "100", "--quiet", "--set", "search.differentiable.terms=[\"toy-alpha-l2\"]",
                    "--set", "search.differentiable.epochs=1",
                    "--set", "search.differentiable.train_size=32", "--set", "search.differentiable.C=2",
                    "--set", "search.differentiable.layers=1")
    assert termed.returncode == 0, termed.stderr
    metrics = (tmp_path / "runs" / "d" / "metrics.jsonl").read_text()
    assert "toy-alpha-l2" in metrics


def test_a_timm_style_factory_trains_evaluates_and_rebuilds_from_its_spec(site, tmp_path):
    """``toy_timm(num_classes=10, in_channels=3, *args, **kwargs)``: no kwarg is required, any is passed on and
    recorded in the spec, and one its network refuses is one error line."""
    tiny = ["--train-size", "100", "--test-size", "40", "--quiet"]
    bare = robnas(site, tmp_path, "train", "--model", "toy_timm", "--epochs", "1", "--name", "bare", *tiny)
    assert bare.returncode == 0, bare.stderr
    sized = robnas(site, tmp_path, "train", "--model", "toy_timm", "--kw", "width=3", "--epochs", "1", "--name", "w3",
                   *tiny)
    assert sized.returncode == 0, sized.stderr
    evaluated = robnas(site, tmp_path, "eval", "--checkpoint", "runs/w3/checkpoints/last.pt", "--attacks", "fgsm",
                       "--name", "e", "--test-size", "40", "--quiet")
    assert evaluated.returncode == 0, evaluated.stderr
    record = json.loads((tmp_path / "runs" / "e" / "results" / "results.json").read_text())["models"][0]
    assert record["model"] == "toy_timm" and record["kwargs"] == {"width": 3}
    refused = robnas(site, tmp_path, "train", "--model", "toy_timm", "--kw", "depth=2", "--name", "bad", *tiny)
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert refused.returncode == 2 and len(lines) == 1 and "depth" in lines[0] and "**kwargs" in lines[0], lines
    assert not (tmp_path / "runs" / "bad").exists()


def test_a_broken_plugin_is_one_error_line(tmp_path):
    site = tmp_path / "site"
    (site / "broken_plugin").mkdir(parents=True)
    (site / "broken_plugin" / "__init__.py").write_text("raise RuntimeError('the plugin is broken')\n")
    install(site, "robnas-broken", None, "broken_plugin")
    proc = robnas(site, tmp_path, "list", "models")
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: plugin 'robnas-broken'") and "broken_plugin" in lines[0]
