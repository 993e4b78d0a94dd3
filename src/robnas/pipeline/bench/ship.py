"""``robnas bench ship FILE NAME [--to DIR] [--commit C]``: compress a finished benchmark with its build record
(:func:`robnas.bench.shipped.ship_benchmark`): into the package (maintainers shipping a benchmark) or into a
folder of committed shards (a build that spans sessions)."""

from __future__ import annotations

import sys
from pathlib import Path

from robnas.bench.shipped import DATA, ship_benchmark
from robnas.errors import InvalidValueError
from robnas.pipeline.config import RunConfig


def run(cfg: RunConfig) -> Path:
    if len(cfg.bench.targets) != 2:
        raise InvalidValueError("robnas bench ship takes the benchmark file and its name: robnas bench ship FILE NAME "
                                "[--to DIR]")
    path, name = cfg.bench.targets
    if not Path(path).is_file():
        raise InvalidValueError(f"{path} is not a benchmark file; pass the file a build wrote")
    packed = ship_benchmark(path, name, Path(cfg.bench.ship_to) if cfg.bench.ship_to else DATA, cfg.bench.commit)
    if not cfg.quiet:
        print(f"{packed}: {packed.stat().st_size / 1e6:.2f} MB", file=sys.stderr)
    return packed
