"""``cells.png`` of a NAS-Bench-201 arch string: the 4-node cell with one labelled edge per node pair.

Nodes 0 (input) to 3 (output) sit on a line; an edge skipping nodes arcs above them, and ``none``
edges (which carry nothing) are drawn in light grey.
"""

from __future__ import annotations

from pathlib import Path

from robnas.spaces.drawing import INPUT_COLOR, NODE_COLOR, OUTPUT_COLOR, draw_edge, draw_node, fit_axes
from robnas.spaces.nb201.arch import parse_arch
from robnas.store.figures import pyplot, save_figure


def draw_arch(arch: str, path: str | Path) -> Path:
    """Draw the cell of ``arch`` into the PNG ``path``."""
    nodes = parse_arch(arch)
    fig, ax = pyplot().subplots(figsize=(8, 3.6), dpi=110)
    pos = {i: (2.2 * i, 0.0) for i in range(len(nodes) + 1)}
    for i, node in enumerate(nodes, start=1):
        for op, j in node:
            draw_edge(ax, pos[j], pos[i], op, rad=-0.35 * (i - j - 1) if i - j > 1 else 0.0,
                      color="lightgrey" if op == "none" else "black")
    for i, xy in pos.items():
        draw_node(ax, xy, str(i), INPUT_COLOR if i == 0 else OUTPUT_COLOR if i == len(nodes) else NODE_COLOR)
    ax.set_title("NAS-Bench-201 cell", y=1.02)
    fit_axes(ax, list(pos.values()))
    ax.set_ylim(-1.0, 0.9 * len(nodes) + 0.8)  # room for the arcs of the long edges above the title
    return save_figure(fig, path)
