"""``robnas bench import DIR FILE [--layout L]`` and ``robnas bench export BENCH OUT``: published layouts (import: the
robustness dataset's or NAS-RobBench-201's; export: the robustness dataset's)."""

from __future__ import annotations

from pathlib import Path

import robnas.bench
from robnas.bench import nas_robbench
from robnas.bench.layout import LAYOUT, export_layout, import_layout
from robnas.errors import InvalidValueError
from robnas.pipeline.config import RunConfig

#: ``--layout`` -> the reader of ``bench import``.
IMPORTERS = {LAYOUT: import_layout, nas_robbench.LAYOUT: nas_robbench.import_nas_robbench}


def run(cfg: RunConfig) -> Path:
    b = cfg.bench
    if len(b.targets) != 2:
        usage = "import DIR FILE" if b.action == "import" else "export BENCH OUT --layout robustness-dataset"
        raise InvalidValueError(f"robnas bench {b.action} takes two arguments: robnas bench {usage}")
    if b.action == "import":
        importer = IMPORTERS.get(b.layout)
        if importer is None:
            raise InvalidValueError(f"unknown import layout {b.layout!r}; robnas reads {', '.join(IMPORTERS)}")
        source, out = b.targets
        path = importer(source, out, dataset=b.source_dataset)
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
