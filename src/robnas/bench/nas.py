"""Judging searches on a benchmark: Jung et al.'s Table 1 and anytime curves.

Input: for each method, the benchmark rows of what each run found -- for a discrete strategy the
rows it asked, in order (the best found is the asked architecture with the lowest objective, the
first one on ties); for a differentiable search the row of its derived cell. Output:

* the table (:func:`table`): per method, the mean over runs of the found architecture's accuracy
  under every column (clean, each attack at the table's radius, the corruption mean), with the
  standard error of that mean, and the mean *percentile* of the found architecture's objective
  among all architectures (100 = better than every other one); the benchmark's optimum per column
  (each column's own maximum, as Jung et al. list it);
* the anytime curves (:func:`anytime` / :func:`plot_anytime`): best objective so far against queries,
  mean over runs with a band of +- one standard error;
* the comparison with random search (:func:`versus_random`): the difference of the mean objective of
  the found architectures and its standard error (runs are independent samples per method).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robnas.bench.measurements import Measurement
from robnas.store.figures import pyplot, save_figure


def best_found(rows: Sequence[int], objective: np.ndarray) -> int:
    """The asked row with the lowest objective value (the first one asked on ties)."""
    values = objective[np.asarray(rows, dtype=np.int64)]
    return int(rows[int(np.argmin(values))])


def anytime(rows: Sequence[int], objective: np.ndarray, length: int) -> np.ndarray:
    """Best objective so far after 1..length queries (a run that stopped early keeps its last value)."""
    curve = np.minimum.accumulate(objective[np.asarray(rows, dtype=np.int64)])
    if len(curve) < length:
        curve = np.concatenate([curve, np.full(length - len(curve), curve[-1] if len(curve) else np.inf)])
    return curve[:length]


def percentile(objective: np.ndarray, row: int) -> float:
    """Share (%) of the benchmark's architectures whose objective is strictly worse than ``row``'s."""
    finite = objective[np.isfinite(objective)]
    return 100.0 * float((finite > objective[row]).sum()) / max(len(finite), 1)


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample standard deviation / sqrt(n); 0 for one run)."""
    a = np.asarray(values, dtype=np.float64)
    if not len(a):
        return float("nan"), float("nan")
    se = float(a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else 0.0
    return float(a.mean()), se


@dataclass
class MethodResult:
    """What one method found over its runs (or seeds)."""

    label: str
    kind: str                                   # "discrete" | "differentiable"
    found: list[int]                            # benchmark row found by each run
    curves: np.ndarray | None = None            # (runs, queries) best objective so far (discrete only)
    note: str = ""


@dataclass
class Table:
    objective: str
    columns: list[Measurement]
    optimum: list[float]                         # per column, percent
    rows: list[dict[str, Any]] = field(default_factory=list)


def table(objective_name: str, objective: np.ndarray, columns: list[Measurement],
          results: Sequence[MethodResult]) -> Table:
    """Jung et al.'s Table 1 for one search objective (accuracies in percent)."""
    out = Table(objective_name, columns, [100.0 * float(np.nanmax(c.values)) for c in columns])
    for result in results:
        cells = [mean_se([100.0 * c.values[r] for r in result.found]) for c in columns]
        out.rows.append({"method": result.label, "kind": result.kind, "runs": len(result.found), "cells": cells,
                         "percentile": mean_se([percentile(objective, r) for r in result.found]),
                         "objective": mean_se([objective[r] for r in result.found]), "note": result.note})
    return out


def versus_random(t: Table, reference: str = "rs") -> list[dict[str, Any]]:
    """Each discrete method's mean objective of the found architectures against ``reference``'s:
    the improvement (lower objective is better), its standard error and how many standard errors it is."""
    base = next((r for r in t.rows if r["method"] == reference), None)
    if base is None:
        return []
    out = []
    for row in t.rows:
        if row["method"] == reference or row["kind"] != "discrete":
            continue
        gain = base["objective"][0] - row["objective"][0]
        se = math.hypot(base["objective"][1], row["objective"][1])
        out.append({"method": row["method"], "gain": gain, "se": se,
                    "standard_errors": gain / se if se > 0 else (math.inf if gain > 0 else 0.0)})
    return out


def markdown(t: Table, title: str = "") -> str:
    """The table: Optimum row, then one row per method: mean (standard error) per column, percentile."""
    head = ["method", "runs", *(c.label for c in t.columns), "percentile"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines.append("| optimum | | " + " | ".join(f"{v:.2f}" for v in t.optimum) + " | 100 |")
    for row in t.rows:
        cells = [f"{m:.2f} ({s:.2f})" for m, s in row["cells"]]
        p, ps = row["percentile"]
        name = row["method"] + (f" ({row['note']})" if row["note"] else "")
        lines.append(f"| {name} | {row['runs']} | " + " | ".join(cells) + f" | {p:.2f} ({ps:.2f}) |")
    return (f"{title}\n\n" if title else "") + "\n".join(lines) + "\n"


def comparison_markdown(comparisons: Sequence[Mapping[str, Any]], objective: str) -> str:
    if not comparisons:
        return ""
    lines = [f"Improvement over random search of the mean {objective} of the found architectures "
             "(positive = better than RS; standard error of the difference of two independent means):", ""]
    for c in comparisons:
        verdict = "more than" if c["standard_errors"] > 2 else "not more than"
        lines.append(f"- {c['method']}: {c['gain']:+.3f} +- {c['se']:.3f} ({c['standard_errors']:+.1f} standard "
                     f"errors: {verdict} 2)")
    return "\n".join(lines) + "\n"


def plot_anytime(results: Sequence[MethodResult], objective: str, optimum: float, path: str | Path,
                 title: str) -> Path:
    """Best objective so far vs queries: mean over runs, band of +- one standard error, optimum dashed."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    for result in results:
        if result.curves is None or not len(result.curves):
            continue
        curves = result.curves
        x = np.arange(1, curves.shape[1] + 1)
        with np.errstate(invalid="ignore"):
            mean = curves.mean(axis=0)
            se = curves.std(axis=0, ddof=1) / math.sqrt(len(curves)) if len(curves) > 1 else np.zeros_like(mean)
        line, = ax.plot(x, mean, label=f"{result.label} ({len(curves)} runs)")
        ax.fill_between(x, mean - se, mean + se, color=line.get_color(), alpha=0.2)
    ax.axhline(optimum, color="black", linestyle="--", linewidth=0.8, label="benchmark optimum")
    ax.set_xlabel("queries (architectures looked up)")
    ax.set_ylabel(f"best {objective} so far (lower is better)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)
