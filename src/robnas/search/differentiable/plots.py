"""Figures of a search: the derived cells as graphs and the evolution of the softmaxed alphas.

Drawn with matplotlib alone (no graphviz): nodes at fixed positions, one labelled arrow per edge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from robnas.spaces.darts.genotype import NUM_CELL_INPUTS, edges_by_node, parse_genotype
from robnas.spaces.nb201.arch import parse_arch
from robnas.store.atomic import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path, tight: bool = True) -> Path:
    # A tight bounding box costs a second full draw; the many-panel alpha figure lays itself out instead.
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight" if tight else None)
    _pyplot().close(fig)
    return path


def _node(ax: Any, xy: tuple[float, float], text: str, color: str) -> None:
    ax.text(*xy, text, ha="center", va="center", fontsize=9, zorder=3,
            bbox=dict(boxstyle="round,pad=0.35", facecolor=color, edgecolor="black"))


def _edge(ax: Any, start: tuple[float, float], end: tuple[float, float], label: str | None, rad: float,
          color: str = "black") -> None:
    ax.annotate("", xy=end, xytext=start, zorder=1,
                arrowprops=dict(arrowstyle="-|>", color=color, shrinkA=14, shrinkB=14,
                                connectionstyle=f"arc3,rad={rad}"))
    if label:
        # Midpoint of matplotlib's arc3 Bezier curve (equal aspect keeps data and display alike).
        (x0, y0), (x1, y1) = start, end
        mx, my = (x0 + x1) / 2 + rad * (y1 - y0) / 2, (y0 + y1) / 2 - rad * (x1 - x0) / 2
        ax.text(mx, my, label, fontsize=7, ha="center", va="center", zorder=2,
                bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.85))


def _darts_cell(ax: Any, edges: Sequence[tuple[str, int]], concat: Sequence[int], title: str) -> None:
    pos = {0: (0.0, 2.0), 1: (0.0, -2.0)}
    for i in range(len(edges) // 2):
        pos[NUM_CELL_INPUTS + i] = (2.6 + 2.2 * i, 1.3 if i % 2 == 0 else -1.3)
    out = (2.8 + 2.2 * (len(edges) // 2), 0.0)
    for node, pair in enumerate(edges_by_node(edges), start=NUM_CELL_INPUTS):
        for k, (op, j) in enumerate(pair):
            _edge(ax, pos[j], pos[node], op, rad=0.12 if k == 0 else -0.12)
    for node in concat:
        _edge(ax, pos[node], out, None, rad=0.0, color="grey")
    for node, xy in pos.items():
        label = ("c_{k-2}", "c_{k-1}")[node] if node < NUM_CELL_INPUTS else str(node - NUM_CELL_INPUTS)
        _node(ax, xy, label, "lightgreen" if node < NUM_CELL_INPUTS else "lightblue")
    _node(ax, out, "c_{k}", "khaki")
    ax.set_title(title)
    _finish(ax, [*pos.values(), out])


def _finish(ax: Any, points: Sequence[tuple[float, float]]) -> None:
    # Text and arrows do not extend the data limits: set them from the node positions.
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    ax.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
    ax.set_ylim(min(ys) - 1.0, max(ys) + 1.0)
    ax.set_aspect("equal")
    ax.axis("off")


def plot_cells(space: str, arch: str, path: str | Path) -> Path:
    """``cells.png``: the normal and reduction cell of a DARTS genotype, or the NB201 cell."""
    plt = _pyplot()
    if space == "darts":
        genotype = parse_genotype(arch)
        fig, axes = plt.subplots(2, 1, figsize=(11, 8), dpi=100)
        _darts_cell(axes[0], genotype.normal, genotype.normal_concat, "normal cell")
        _darts_cell(axes[1], genotype.reduce, genotype.reduce_concat, "reduction cell")
    else:
        nodes = parse_arch(arch)
        fig, ax = plt.subplots(figsize=(8, 3.6), dpi=110)
        pos = {i: (2.2 * i, 0.0) for i in range(len(nodes) + 1)}
        for i, node in enumerate(nodes, start=1):
            for op, j in node:
                _edge(ax, pos[j], pos[i], op, rad=-0.35 * (i - j - 1) if i - j > 1 else 0.0,
                      color="lightgrey" if op == "none" else "black")
        for i, xy in pos.items():
            _node(ax, xy, str(i), "lightgreen" if i == 0 else "khaki" if i == len(nodes) else "lightblue")
        ax.set_title("NAS-Bench-201 cell", y=1.02)
        _finish(ax, list(pos.values()))
        ax.set_ylim(-1.0, 0.9 * len(nodes) + 0.8)  # room for the arcs of the long edges above the title
    return _save(fig, Path(path))


def plot_alphas(history: Sequence[dict[str, Any]], op_names: Sequence[str], edge_names: Sequence[str],
                path: str | Path) -> Path:
    """``alphas.png``: softmax(alpha) of every op on every edge against the epoch, one panel per edge."""
    plt = _pyplot()
    matrices = list(history[0]["alphas"]) if history else []
    cols = min(7, len(edge_names))
    rows_per = math.ceil(len(edge_names) / cols)
    fig, axes = plt.subplots(max(1, rows_per * len(matrices)), cols, squeeze=False, sharex=True, sharey=True,
                             figsize=(2.1 * cols, 1.8 * rows_per * max(1, len(matrices)) + 0.8), dpi=80)
    epochs = [record["epoch"] for record in history]
    lines = []
    for m, matrix in enumerate(matrices):
        for e, edge in enumerate(edge_names):
            ax = axes[m * rows_per + e // cols][e % cols]
            for k, op in enumerate(op_names):
                (line,) = ax.plot(epochs, [record["alphas"][matrix][e][k] for record in history], label=op,
                                  linewidth=1.2)
                if m == 0 and e == 0:
                    lines.append(line)
            ax.set_title(f"{matrix.split('_')[-1]} {edge}" if len(matrices) > 1 else edge, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(True, alpha=0.3)
    for ax in axes.flat[len(matrices) * rows_per * cols:]:
        ax.axis("off")
    for r in range(axes.shape[0]):
        for c in range(axes.shape[1]):
            if (r % rows_per) * cols + c >= len(edge_names):
                axes[r][c].axis("off")
    fig.supxlabel("epoch", fontsize=9)
    fig.supylabel("softmax(alpha)", fontsize=9)
    if lines:
        fig.legend(lines, list(op_names), loc="upper center", ncol=min(len(op_names), 8), fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.07, top=0.9, wspace=0.15, hspace=0.45)
    return _save(fig, Path(path), tight=False)
