"""What the study actions of ``robnas bench`` share: the benchmark argument, the run directory and the backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from robnas.backends import check_backend, create_backend
from robnas.errors import InvalidValueError
from robnas.pipeline.config import RunConfig, written_config
from robnas.store.run_dir import RunDir


def benchmark_source(cfg: RunConfig) -> str:
    """The one benchmark argument of a study action: an absolute file path, or a shipped name."""
    action = cfg.bench.action
    if len(cfg.bench.targets) != 1:
        raise InvalidValueError(f"robnas bench {action} takes one benchmark (a file or a shipped name): "
                                f"robnas bench {action} BENCH, got {len(cfg.bench.targets)} arguments")
    source = Path(cfg.bench.targets[0])
    return str(source.resolve()) if source.is_file() else cfg.bench.targets[0]


def check_backend_settings(cfg: RunConfig) -> None:
    check_backend(cfg.bench.backend, cfg.bench.workers, cfg.bench.address)


def make_backend(cfg: RunConfig) -> Any:
    return create_backend(cfg.bench.backend, cfg.bench.workers, cfg.bench.address)


def open_run(cfg: RunConfig) -> RunDir:
    run = RunDir.create(cfg.out, cfg.name, f"bench-{cfg.bench.action}", quiet=cfg.quiet)
    run.write_config(written_config(cfg))
    return run
