"""Run directories: every command writes its resolved config, log, metrics and results in one place.

Layout::

    <out>/<name>/
        config.toml      the resolved config (file + --set overrides + defaults)
        log.txt          what the command printed
        metrics.jsonl    one JSON record per epoch (rewritten from the checkpoint on resume)
        checkpoints/     last.pt (every epoch, atomic) and best.pt
        results/         results.json, table.md, PNG plots

In a data-parallel job (:mod:`robnas.distributed`) rank 0 alone creates and writes the directory;
the other ranks get a ``RunDir`` of the same path with ``writes = False``, whose writing methods
do nothing (so they cannot race rank 0, and hosts need no shared file system).
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
from pathlib import Path
from typing import Any

import robnas.distributed as distributed
from robnas.config import to_toml
from robnas.errors import InvalidValueError
from robnas.store.atomic import write_text_atomic


class RunDir:
    """Paths and append-only records of one run."""

    def __init__(self, path: str | Path, quiet: bool = False, writes: bool = True) -> None:
        self.path = Path(path)
        self.quiet = quiet or not writes
        self.writes = writes
        self.checkpoints = self.path / "checkpoints"
        self.results = self.path / "results"

    @classmethod
    def create(cls, out: str | Path, name: str | None, command: str, quiet: bool = False) -> "RunDir":
        """Make (or reopen, for --resume) ``out/name``; the default name is ``command-YYYYmmdd-HHMMSS``."""
        if distributed.launched().enabled and not distributed.current().enabled:
            raise InvalidValueError(f"`{command}` does not run data-parallel (only robnas train and robnas search "
                                    "--method darts|advrush|rnas do); start it without torchrun")
        if name is None:
            # Rank 0's clock names the run for every rank.
            name = distributed.broadcast_object(f"{command}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}")
        if not distributed.current().is_main:
            return cls(Path(out) / name, quiet=True, writes=False)
        run = cls(Path(out) / name, quiet=quiet)
        run.checkpoints.mkdir(parents=True, exist_ok=True)
        run.results.mkdir(parents=True, exist_ok=True)
        return run

    @staticmethod
    def latest(out: str | Path, command: str) -> Path | None:
        """The newest ``out/command-*`` directory (what ``--resume`` without ``--name`` continues)."""
        runs = [p for p in Path(out).glob(f"{command}-*") if p.is_dir()]
        return max(runs, key=lambda p: p.stat().st_mtime) if runs else None

    def child(self, name: str) -> "RunDir":
        """A nested run directory (one per model of a multi-model run)."""
        return RunDir.create(self.path, name, "child", quiet=self.quiet)

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def log_path(self) -> Path:
        return self.path / "log.txt"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    def write_config(self, config: dict[str, Any]) -> None:
        if not self.writes:
            return
        write_text_atomic(self.config_path, to_toml(config))

    def log(self, message: str) -> None:
        """Append a timestamped line to log.txt and echo it (unless quiet) to stderr."""
        if not self.writes:
            return
        stamp = _dt.datetime.now().strftime("%H:%M:%S")
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(f"[{stamp}] {message}\n")
        if not self.quiet:
            print(message, file=sys.stderr, flush=True)

    def append_metrics(self, record: dict[str, Any]) -> None:
        if not self.writes:
            return
        with open(self.metrics_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    def rewrite_metrics(self, records: list[dict[str, Any]]) -> None:
        """Make metrics.jsonl hold exactly ``records`` (used on resume: the checkpoint is the truth)."""
        if not self.writes:
            return
        write_text_atomic(self.metrics_path, "".join(json.dumps(r) + "\n" for r in records))

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.exists():
            return []
        return [json.loads(line) for line in self.metrics_path.read_text().splitlines() if line.strip()]

