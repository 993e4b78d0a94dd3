"""Helpers for end-to-end tests of the ``robnas`` command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TINY_RUN = [
    "--dataset", "digits", "--train-size", "200", "--test-size", "60", "--epochs", "2", "--batch-size", "50",
    "--quiet", "--set", "eval.apgd_steps=10", "--set", "eval.apgd_restarts=1",
]


def robnas(*args: str, cwd: Path, check: bool = False, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess (as a user would), single-threaded for reproducibility."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    proc = subprocess.run([sys.executable, "-m", "robnas.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"robnas {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


@pytest.fixture
def cli(tmp_path):
    def run(*args: str, check: bool = False, timeout: float = 300) -> subprocess.CompletedProcess:
        return robnas(*args, cwd=tmp_path, check=check, timeout=timeout)

    return run
