"""``robnas bench show BENCH [ARCH ...]``: a benchmark's summary, or architectures' full records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

import robnas.bench
from robnas.errors import InvalidValueError
from robnas.pipeline.config import RunConfig


def _format_record(record: dict[str, Any]) -> str:
    lines = [f"architecture {record['arch']}", f"  key {record['key']}"]
    if record.get("ident") is not None:
        lines.append(f"  NAS-Bench-201 id {record['ident']} (representative)")
    for name in ("status", "error", "seed", "params", "flops", "train_seconds", "eval_seconds"):
        if record.get(name) is not None:
            lines.append(f"  {name} {record[name]}")
    for name, value in sorted(record.get("info", {}).items()):
        lines.append(f"  {name} {value}")
    for key, entry in record["measures"].items():
        axis = entry.get("axis") or []
        lines.append(f"  {key}" + (f" at {', '.join(map(str, axis))}" if axis else ""))
        for measure in ("accuracy", "confidence", "value"):
            if measure in entry:
                value = np.asarray(entry[measure], dtype=float)
                text = f"{value:.4f}" if value.ndim == 0 else " ".join(f"{v:.4f}" for v in value.ravel())
                lines.append(f"    {measure}: {text}")
        if "cm" in entry:
            cm = np.asarray(entry["cm"])
            lines.append(f"    cm: {'x'.join(map(str, cm.shape))} confusion counts (rows: true class), "
                         f"correct {int(np.trace(cm if cm.ndim == 2 else cm[0]))} at the first radius")
    return "\n".join(lines)


def run(cfg: RunConfig) -> Path:
    if not cfg.bench.targets:
        raise InvalidValueError("robnas bench show needs a benchmark: robnas bench show FILE|NAME [ARCH ...]")
    source, *archs = cfg.bench.targets
    with robnas.bench.open(source) as bench:
        if not archs:
            print(json.dumps(bench.summary(), indent=2))
        for arch in archs:
            print(_format_record(bench.record(int(arch) if arch.isdigit() else arch)))
        return bench.path
