"""``robnas bench reference OUT [--file data.anb]``: NAS-Bench-201's CIFAR-10 accuracies as a benchmark file
(:func:`robnas.bench.reference.write_reference`), to compare other benchmarks against (``correlate --against``)."""

from __future__ import annotations

import sys
from pathlib import Path

from robnas.bench.reference import write_reference
from robnas.errors import InvalidValueError
from robnas.pipeline.config import RunConfig


def run(cfg: RunConfig) -> Path:
    if len(cfg.bench.targets) != 1:
        raise InvalidValueError("robnas bench reference takes one argument: the benchmark file to write "
                                "(robnas bench reference OUT [--file data.anb])")
    out = write_reference(cfg.bench.targets[0], cfg.bench.reference_file)
    if not cfg.quiet:
        print(f"wrote NAS-Bench-201's CIFAR-10 test accuracies of the 6466 classes to {out}", file=sys.stderr)
    return out
