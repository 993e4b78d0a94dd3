"""Reports of a discrete search: the Pareto front as CSV and PNG, and best-so-far curves.

Rows are ``(arch, metrics)`` pairs as strategies and the results database give them; all
objectives are minimised. The front is recomputed here (:mod:`robnas.search.discrete.pareto`), so
any set of evaluated rows -- one run, several seeds, rows read back from the database -- can be drawn.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from robnas.errors import InvalidValueError
from robnas.search.discrete.pareto import front_indices
from robnas.store.atomic import write_text_atomic
from robnas.store.figures import pyplot, save_figure

Row = tuple[str, Mapping[str, float]]


def objective_matrix(rows: Sequence[Row], objectives: Sequence[str]) -> np.ndarray:
    """(rows x objectives) values; a missing or non-finite value becomes +inf (ranks last)."""
    missing = [o for o in objectives if rows and all(o not in m for _, m in rows)]
    if missing:
        raise InvalidValueError(f"no evaluated row has objective(s) {', '.join(missing)}")
    out = np.full((len(rows), len(objectives)), math.inf)
    for i, (_, metrics) in enumerate(rows):
        for j, name in enumerate(objectives):
            value = float(metrics.get(name, math.inf))
            out[i, j] = value if math.isfinite(value) else math.inf
    return out


def pareto_rows(rows: Sequence[Row], objectives: Sequence[str]) -> list[Row]:
    """The non-dominated rows (failed evaluations excluded), sorted by the first objective."""
    values = objective_matrix(rows, objectives)
    finite = np.isfinite(values).all(axis=1)
    return [rows[i] for i in front_indices(values) if finite[i]]


def write_front_csv(rows: Sequence[Row], objectives: Sequence[str], path: str | Path) -> Path:
    """The Pareto front of ``rows`` as CSV: arch, the objectives, then every other metric."""
    front = pareto_rows(rows, objectives)
    extra = sorted({k for _, m in front for k in m} - set(objectives))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["arch", *objectives, *extra])
    for arch, metrics in front:
        writer.writerow([arch, *(repr(float(metrics[o])) for o in objectives), *(metrics.get(k, "") for k in extra)])
    out = Path(path)
    write_text_atomic(out, buffer.getvalue())
    return out


def plot_front(rows: Sequence[Row], objectives: Sequence[str], path: str | Path, title: str | None = None) -> Path:
    """Every evaluated arch (grey) and the Pareto front (red). 3 objectives: one panel per pair,
    the front being the 3-objective one."""
    if len(objectives) not in (2, 3):
        raise InvalidValueError(f"a Pareto plot needs 2 or 3 objectives, got {len(objectives)}")
    plt = pyplot()

    values = objective_matrix(rows, objectives)
    finite = np.isfinite(values).all(axis=1)
    front = np.zeros(len(rows), dtype=bool)
    front[[i for i in front_indices(values) if finite[i]]] = True
    pairs = list(itertools.combinations(range(len(objectives)), 2))
    fig, axes = plt.subplots(1, len(pairs), figsize=(5.2 * len(pairs), 4.4), dpi=120, squeeze=False)
    for ax, (a, b) in zip(axes[0], pairs):
        ax.scatter(values[finite & ~front, a], values[finite & ~front, b], s=14, c="0.6", alpha=0.6,
                   label=f"evaluated ({int(finite.sum())})")
        ax.scatter(values[front, a], values[front, b], s=30, c="tab:red", edgecolors="black", linewidths=0.5,
                   label=f"Pareto front ({int(front.sum())})", zorder=3)
        if len(objectives) == 2:  # the attainment staircase of a 2-D front
            order = np.argsort(values[front, a], kind="stable")
            ax.step(values[front, a][order], values[front, b][order], where="post", c="tab:red", lw=1)
        ax.set_xlabel(f"{objectives[a]} (lower is better)")
        ax.set_ylabel(f"{objectives[b]} (lower is better)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title or "Evaluated architectures and the Pareto front")
    fig.tight_layout()
    return save_figure(fig, path, tight=False)


def best_so_far(values: Sequence[float]) -> np.ndarray:
    """Running minimum of an objective in evaluation order (failures, non-finite, count as +inf)."""
    array = np.array([v if math.isfinite(v) else math.inf for v in map(float, values)])
    return np.minimum.accumulate(array) if array.size else array


def plot_best_so_far(runs: Mapping[str, Sequence[Sequence[float]]], objective: str, path: str | Path,
                     title: str | None = None) -> Path:
    """Best-so-far ``objective`` vs number of evaluations; per label the mean over its runs (seeds),
    shaded between the best and worst run."""
    if not runs or not all(len(r) for r in runs.values()):
        raise InvalidValueError("best-so-far plot needs at least one run per label")
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    for label, label_runs in runs.items():
        curves = [best_so_far(r) for r in label_runs]
        length = min(len(c) for c in curves)
        if length == 0:
            continue
        stack = np.stack([c[:length] for c in curves])
        x = np.arange(1, length + 1)
        with np.errstate(invalid="ignore"):
            mean = stack.mean(axis=0)
        line, = ax.plot(x, mean, label=f"{label} ({len(curves)} run{'s' if len(curves) > 1 else ''})")
        if len(curves) > 1:
            ax.fill_between(x, stack.min(axis=0), stack.max(axis=0), color=line.get_color(), alpha=0.15)
    ax.set_xlabel("evaluations")
    ax.set_ylabel(f"best {objective} so far (lower is better)")
    ax.set_title(title or f"Best {objective} found vs number of evaluations")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, tight=False)


def write_search_plots(results: Path, rows: Sequence[Row], objectives: Sequence[str], method: str) -> list[Path]:
    """One search's figures in ``results``: pareto.csv (the non-dominated evaluations; for one objective its
    minimum), pareto.png (2 or 3 objectives: one panel per pair) and best_so_far.png (the first objective's
    running minimum), for the evaluated ``rows`` in the order they were told."""
    if not rows:
        return []
    paths = [write_front_csv(rows, objectives, results / "pareto.csv")]
    if len(objectives) in (2, 3):
        paths.append(plot_front(rows, objectives, results / "pareto.png",
                                title=f"{method}: evaluated architectures and the Pareto front"))
    paths.append(plot_best_so_far({method: [[m[objectives[0]] for _, m in rows]]}, objectives[0],
                                  results / "best_so_far.png"))
    return paths
