"""``robnas bench ACTION``: one module per action, each ``run(cfg) -> Path`` (where its results are)."""

from __future__ import annotations

import importlib
from pathlib import Path

from robnas.errors import UnknownNameError
from robnas.pipeline.config import RunConfig

ACTIONS = {
    "build": "robnas.pipeline.bench.build",
    "merge": "robnas.pipeline.bench.merge",
    "show": "robnas.pipeline.bench.show",
    "import": "robnas.pipeline.bench.layout",
    "export": "robnas.pipeline.bench.layout",
    "reference": "robnas.pipeline.bench.reference",
    "proxies": "robnas.pipeline.bench.proxies",
    "correlate": "robnas.pipeline.bench.correlate",
    "nas": "robnas.pipeline.bench.nas",
    "design": "robnas.pipeline.bench.design",
    "study": "robnas.pipeline.bench.study",
    "ship": "robnas.pipeline.bench.ship",
    "cascade": "robnas.pipeline.bench.cascade",
}


def run(cfg: RunConfig) -> Path:
    action = cfg.bench.action
    if action not in ACTIONS:
        raise UnknownNameError(f"unknown bench action {action!r}; choose one of: {', '.join(ACTIONS)}")
    return importlib.import_module(ACTIONS[action]).run(cfg)
