"""``robnas bench merge OUT PART...``: join shard files into one benchmark (:func:`robnas.bench.merge.merge`)."""

from __future__ import annotations

import sys
from pathlib import Path

from robnas.bench.merge import merge
from robnas.errors import InvalidValueError
from robnas.pipeline.config import RunConfig


def run(cfg: RunConfig) -> Path:
    targets = cfg.bench.targets
    if len(targets) < 2:
        raise InvalidValueError("robnas bench merge takes the output file and at least one part: "
                                "robnas bench merge OUT PART [PART ...]")
    out = Path(targets[0])
    merged = merge(out, [Path(t) for t in targets[1:]])
    if not cfg.quiet:
        print(f"merged {len(targets) - 1} parts ({len(merged['builds'])} builds) into {out}", file=sys.stderr)
    return out
