"""``robnas bench show BENCH [ARCH ...]``: a benchmark's summary, or architectures' full records."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

import robnas.bench
from robnas.bench import measurements as m
from robnas.bench.benchmark import Benchmark
from robnas.bench.noise import noise_ceiling, source
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


def noise_summary(bench: Benchmark, resamples: int = 100) -> dict[str, Any] | str:
    """Per measure (clean, each attack x radius, each corruption, the corruption mean): the noise ceiling (tau
    between two replicates, with an interval over architectures), the replicate SD and the SD over
    architectures, in points; a sentence instead when the benchmark has one replicate."""
    if len(bench.replicates) < 2:
        return (f"{len(bench.replicates)} replicate per architecture: no noise ceiling (build with --seeds 2, or "
                "grow this build with --resume --seeds 2)")
    out: dict[str, Any] = {}
    for measure in (m.clean(bench), *m.attacks(bench), *m.corruptions(bench)):
        c = noise_ceiling(source(bench, measure), resamples)
        out[measure.label] = {"replicate_tau": _number(c.tau, 4), "interval": [_number(c.low, 4), _number(c.high, 4)],
                              "replicate_sd": _number(100 * c.replicate_sd, 3),
                              "sd_over_archs": _number(100 * c.spread_sd, 3)}
    return out


def _number(value: float, digits: int) -> float | None:
    """JSON has no NaN: an undefined tau (every architecture tied) is null."""
    return round(value, digits) if math.isfinite(value) else None


def run(cfg: RunConfig) -> Path:
    if not cfg.bench.targets:
        raise InvalidValueError("robnas bench show needs a benchmark: robnas bench show FILE|NAME [ARCH ...]")
    source, *archs = cfg.bench.targets
    with robnas.bench.open(source) as bench:
        if not archs:
            print(json.dumps({**bench.summary(), "noise": noise_summary(bench)}, indent=2))
        for arch in archs:
            print(_format_record(bench.record(int(arch) if arch.isdigit() else arch)))
        return bench.path
