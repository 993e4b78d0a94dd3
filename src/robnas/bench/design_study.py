"""The design study of a benchmark (``robnas bench design``): accuracy against parameter count, the spread within
equal-parameter groups next to the replicate SD, operations per edge among the top and bottom architectures,
the best architecture per group.

Writes to ``results/``: ``design.json`` (every group's numbers, the per-edge frequencies),
``design_params.png`` (Jung et al. Fig. 5's question: accuracy under each attack per parameter
group), ``design_top.png`` (Fig. 5's layout: the best architectures of the largest group, one
coloured cell per edge) and ``report.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robnas.bench import design as lib
from robnas.bench import measurements as m
from robnas.bench.benchmark import Benchmark
from robnas.errors import InvalidValueError
from robnas.bench.settings import DesignConfig
from robnas.bench.study_report import Section, reference_radius
from robnas.store.atomic import write_json_atomic


@dataclass
class DesignPlan:
    groups: lib.Groups
    score: m.Measurement                 # mean adversarial accuracy
    columns: list[m.Measurement]         # attacks at the study's radius, then the mean
    frequencies: dict[str, Any]
    decile: float
    top: int
    radius: str | None


def plan(d: DesignConfig, bench: Benchmark, radius: str | None = None) -> DesignPlan:
    """Everything checked before anything is written."""
    if d.top < 1:
        raise InvalidValueError(f"bench.design.top must be >= 1 architecture, got {d.top}")
    radius = radius if radius is not None else reference_radius(bench)
    score = m.mean_adversarial(bench)
    groups = lib.parameter_groups(bench)
    frequencies = lib.op_frequencies(bench, score.values, d.decile)
    return DesignPlan(groups, score, [*m.at_radius(bench, radius), score], frequencies, d.decile, d.top, radius)


def _headline(rows: list[dict[str, Any]]) -> str:
    """The spread in words: the largest group and the group with the widest range."""
    if not rows:
        return ""
    largest = max(rows, key=lambda r: r["architectures"])
    widest = max((r for r in rows if r["architectures"] > 1), key=lambda r: r["range"], default=largest)
    noise = (f", against a replicate SD of {largest['replicate_sd']:.2f} points"
             if largest.get("replicate_sd") is not None else "")
    return (f"In the largest equal-parameter group ({largest['group']}, {largest['architectures']} architectures) mean "
            f"adversarial accuracy ranges from {largest['min']:.2f}% to {largest['max']:.2f}% (IQR "
            f"{largest['iqr']:.2f} points{noise}); the widest range is in group {widest['group']} "
            f"({widest['architectures']} architectures): {widest['min']:.2f}% to {widest['max']:.2f}%.")


def write(p: DesignPlan, bench: Benchmark, results: Path, log: Callable[[str], None]) -> Section:
    archs = bench.archs()
    replicates = (np.stack([m.mean_adversarial(bench, r).values for r in bench.replicates])
                  if len(bench.replicates) >= 2 else None)
    rows = lib.spread(p.groups, p.score.values, archs, replicates)
    files = [lib.plot_parameters(p.groups, p.columns, results / "design_params.png",
                                 f"{bench.name}: accuracy per parameter group (attacks at {p.radius})")]
    largest = max(range(len(p.groups.members)), key=lambda g: len(p.groups.members[g]))
    top = lib.plot_top(bench, p.groups.members[largest], p.score.values, p.top, results / "design_top.png",
                       f"top {p.top} of the {len(p.groups.members[largest])} architectures with "
                       f"{p.groups.labels[largest]} {'parameters' if p.groups.how == 'params' else ''}".rstrip()
                       + ", by mean adversarial accuracy")
    if top is not None:
        files.append(top)
    write_json_atomic(results / "design.json", {
        "benchmark": bench.name, "grouped_by": p.groups.how, "score": "mean accuracy over every attack and radius",
        "groups": rows, "frequencies": {**p.frequencies, "decile": p.decile},
        "top_group": {"group": p.groups.labels[largest],
                      "archs": [archs[i] for i in p.groups.members[largest][
                          np.argsort(-np.nan_to_num(p.score.values[p.groups.members[largest]], nan=-1.0),
                                     kind="stable")[:p.top]]]}})
    files.append(results / "design.json")
    log(f"design: {len(rows)} parameter groups, top/bottom {p.decile:g}% of {len(archs)} architectures")
    text = [_headline(rows), "", lib.spread_markdown(rows, p.groups.how),
            f"![accuracy per parameter group]({files[0].name})", "",
            lib.frequencies_markdown(p.frequencies, p.decile)]
    if top is not None:
        text += ["", f"![best architectures of the largest group]({top.name})"]
    return Section(f"Architecture design and robustness ({bench.name})", "\n".join(text), files)
