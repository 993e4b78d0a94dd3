"""``robnas bench import DIR FILE`` and ``robnas bench export BENCH OUT``: the published robustness-dataset layout."""

from __future__ import annotations

from pathlib import Path

import robnas.bench
from robnas.bench.layout import LAYOUT, export_layout, import_layout
from robnas.errors import InvalidValueError
from robnas.pipeline.config import RunConfig


def run(cfg: RunConfig) -> Path:
    b = cfg.bench
    if len(b.targets) != 2:
        usage = "import DIR FILE" if b.action == "import" else "export BENCH OUT --layout robustness-dataset"
        raise InvalidValueError(f"robnas bench {b.action} takes two arguments: robnas bench {usage}")
    if b.action == "import":
        source, out = b.targets
        path = import_layout(source, out, dataset=b.source_dataset)
        if not cfg.quiet:
            with robnas.bench.open(path) as bench:
                print(f"imported {len(bench)} architectures of {bench.dataset} ({', '.join(bench.result_keys())})")
        return path
    if b.layout != LAYOUT:
        raise InvalidValueError(f"unknown export layout {b.layout!r}; robnas writes {LAYOUT}")
    source, out = b.targets
    with robnas.bench.open(source) as bench:
        export_layout(bench, out)
    return Path(out)
