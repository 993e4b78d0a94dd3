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
* the comparison with random search (:func:`versus_random_heldout`): the difference of the mean held-out
  objective of the final picks, with a bootstrap interval over runs and test points; a method beats
  random search only when the interval lies above zero;
* the regret of the picks (:func:`regret`) against the best replicate-mean architecture.

With replicates (:class:`HeldOut`), a search sees one replicate and its pick is scored on the others.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robnas.bench.lookup import attack_key
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


# --- scoring the picks on replicates they were not selected on ---------------------------------


@dataclass(frozen=True)
class HeldOut:
    """How a search's picks are scored: the search sees replicate ``search``; its final pick is scored on
    the replicates ``heldout`` (their mean), which it never saw, so a lucky draw it selected on does not
    flatter it (the winner's curse). ``None``: the benchmark has one replicate, picks are scored on the
    values they were selected on, and the report says so."""

    search: int | None
    heldout: tuple[int, ...] | None

    @classmethod
    def of(cls, replicates: Sequence[int]) -> "HeldOut":
        if len(replicates) < 2:
            return cls(None, None)
        return cls(int(replicates[0]), tuple(int(r) for r in replicates[1:]))

    @property
    def note(self) -> str:
        if self.heldout is None:
            return ("This benchmark has one replicate: every pick is scored on the very values the search selected "
                    "it on, so the found architectures' scores carry the winner's curse (a lucky draw looks good).")
        return (f"Searches see replicate {self.search}; every column scores the final pick on replicate"
                f"{'s' if len(self.heldout) > 1 else ''} {', '.join(map(str, self.heldout))}, which the search never "
                "saw (no winner's curse). Regret is the pick's held-out objective minus the best replicate-mean "
                "objective of the benchmark.")


def objective_points(bench: Any, objective: str, replicates: Sequence[int] | None) -> np.ndarray | None:
    """``(A, N)``: the per-point share correct under an accuracy objective (clean_error, robust_error:...),
    averaged over ``replicates`` (None: all), when the benchmark stores per-point outcomes; else None."""
    if bench.test_points is None:
        return None
    chosen = list(bench.replicates if replicates is None else replicates)
    if objective == "clean_error":
        key, eps = "clean", None
    elif objective.startswith("robust_error:"):
        attack, _, eps = objective.removeprefix("robust_error:").rpartition("@")
        key = attack_key(bench, attack)
    else:
        return None
    return np.mean([bench.points(key, eps, replicate=r) for r in chosen], axis=0, dtype=np.float32)


def regret(found: Sequence[int], heldout: np.ndarray, mean: np.ndarray) -> tuple[float, float]:
    """Mean and SE over runs of the pick's held-out objective minus the best replicate-mean objective of the
    benchmark (objectives are minimised: 0 = the pick is as good as the best architecture on average; for an
    error objective, in points of accuracy)."""
    best = float(np.min(mean[np.isfinite(mean)]))
    return mean_se([float(heldout[r]) - best for r in found])


def versus_random_heldout(results: Sequence[MethodResult], error: np.ndarray, points: np.ndarray | None,
                          resamples: int, confidence: float, seed: int, reference: str = "rs") -> list[dict[str, Any]]:
    """Each method's mean held-out objective (an error, lower is better) against ``reference``'s: the gain and
    its interval from a bootstrap that resamples each method's runs and, when per-point outcomes exist, the
    test points (the picks' errors recomputed on the redrawn points). A method *beats* random search only
    when the whole interval lies above zero."""
    base = next((r for r in results if r.label == reference), None)
    if base is None:
        return []
    rng = np.random.default_rng(seed)
    n_points = None if points is None else points.shape[1]
    out = []
    for result in results:
        if result.label == reference:
            continue
        gain = float(np.mean(error[base.found]) - np.mean(error[result.found]))
        draws = np.empty(resamples)
        for b in range(resamples):
            mine = rng.choice(result.found, len(result.found))
            theirs = rng.choice(base.found, len(base.found))
            if points is None:
                draws[b] = float(error[theirs].mean() - error[mine].mean())
            else:  # errors recomputed on redrawn test points: 100 x (accuracy of mine - accuracy of theirs)
                w = rng.multinomial(n_points, np.full(n_points, 1.0 / n_points)).astype(np.float32)
                draws[b] = 100.0 * float((points[mine] @ w).mean() - (points[theirs] @ w).mean()) / n_points
        tail = (1.0 - confidence) / 2.0
        low, high = (np.quantile(draws, [tail, 1.0 - tail]) if resamples else (float("nan"), float("nan")))
        out.append({"method": result.label, "gain": gain, "low": float(low), "high": float(high),
                    "beats": bool(low > 0), "loses": bool(high < 0), "runs": len(result.found)})
    return out


def heldout_markdown(comparisons: Sequence[Mapping[str, Any]], objective: str, confidence: float,
                     points: bool, reference: str = "random search") -> str:
    if not comparisons:
        return ""
    what = "runs and test points" if points else "runs"
    name = reference.split(" (")[0]
    lines = [f"Gain over {reference} of the mean held-out {objective} of the final picks (positive = better "
             f"than {name}), {confidence:.0%} bootstrap interval over {what}:", ""]
    for c in comparisons:
        verdict = (f"beats {name}" if c["beats"] else f"worse than {name}" if c["loses"]
                   else f"not distinguishable from {name}")
        lines.append(f"- {c['method']}: {c['gain']:+.2f} [{c['low']:+.2f}, {c['high']:+.2f}]: {verdict}")
    return "\n".join(lines) + "\n"
