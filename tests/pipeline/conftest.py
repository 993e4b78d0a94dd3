"""Helpers for end-to-end tests of the ``robnas`` command line."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from robnas.cli import main

TINY_EVAL = ["--dataset", "digits", "--test-size", "60", "--quiet", "--set", "eval.apgd_steps=10",
             "--set", "eval.apgd_restarts=1"]
# Commands that also train (run): the training subset and budget too.
TINY_RUN = [*TINY_EVAL, "--train-size", "200", "--epochs", "2", "--batch-size", "50"]
# `robnas run` defaults to the shipped main job (--config digits); its tests start from the defaults.
EMPTY_CONFIG = str(Path(__file__).resolve().parent / "empty.toml")
SUBPROCESS_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def robnas_subprocess(*args: str, cwd: Path) -> subprocess.Popen:
    """The real console entry point in its own process (for kill -9 tests)."""
    return subprocess.Popen([sys.executable, "-m", "robnas.cli", *args], cwd=cwd, env=SUBPROCESS_ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """Run ``robnas.cli.main`` in-process from ``tmp_path`` (fast: no torch import per call)."""
    monkeypatch.chdir(tmp_path)

    def run(*args: str, check: bool = False) -> Result:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        if check and code != 0:
            raise AssertionError(f"robnas {' '.join(args)} failed ({code}):\n{err}")
        return Result(code, out, err)

    return run
