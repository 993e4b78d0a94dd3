"""Primitives for drawing a cell as a graph with matplotlib alone (no graphviz).

Nodes are labelled boxes at fixed positions, edges labelled arrows (straight or arcs); every space's
``draw_cell`` places its own nodes and calls these. Figures are made with
:func:`robnas.store.figures.pyplot` and written with :func:`robnas.store.figures.save_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Point = tuple[float, float]

#: Box colours: inputs, intermediate nodes, the output.
INPUT_COLOR = "lightgreen"
NODE_COLOR = "lightblue"
OUTPUT_COLOR = "khaki"


def draw_node(ax: Any, xy: Point, text: str, color: str) -> None:
    """A labelled, rounded box centred at ``xy``."""
    ax.text(*xy, text, ha="center", va="center", fontsize=9, zorder=3,
            bbox=dict(boxstyle="round,pad=0.35", facecolor=color, edgecolor="black"))


def draw_edge(ax: Any, start: Point, end: Point, label: str | None, rad: float, color: str = "black") -> None:
    """An arrow from ``start`` to ``end`` (an arc of curvature ``rad``; 0 is straight), labelled at its middle."""
    ax.annotate("", xy=end, xytext=start, zorder=1,
                arrowprops=dict(arrowstyle="-|>", color=color, shrinkA=14, shrinkB=14,
                                connectionstyle=f"arc3,rad={rad}"))
    if label:
        # Midpoint of matplotlib's arc3 Bezier curve (equal aspect keeps data and display alike).
        (x0, y0), (x1, y1) = start, end
        mx, my = (x0 + x1) / 2 + rad * (y1 - y0) / 2, (y0 + y1) / 2 - rad * (x1 - x0) / 2
        ax.text(mx, my, label, fontsize=7, ha="center", va="center", zorder=2,
                bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.85))


def fit_axes(ax: Any, points: Sequence[Point]) -> None:
    """Limits around the node positions, equal aspect, no axes drawn."""
    # Text and arrows do not extend the data limits: set them from the node positions.
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    ax.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
    ax.set_ylim(min(ys) - 1.0, max(ys) + 1.0)
    ax.set_aspect("equal")
    ax.axis("off")
