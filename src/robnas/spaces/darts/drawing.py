"""``cells.png`` of a DARTS genotype: the normal and the reduction cell, one above the other.

Each cell: its two inputs (the outputs of the previous two cells, ``c_{k-2}`` and ``c_{k-1}``), its
four intermediate nodes with their two labelled incoming edges, and the output ``c_{k}`` that
concatenates the nodes of the cell's concat list (grey arrows).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from robnas.spaces.darts.genotype import NUM_CELL_INPUTS, edges_by_node, parse_genotype
from robnas.spaces.drawing import INPUT_COLOR, NODE_COLOR, OUTPUT_COLOR, draw_edge, draw_node, fit_axes
from robnas.store.figures import pyplot, save_figure


def _draw_cell(ax: Any, edges: Sequence[tuple[str, int]], concat: Sequence[int], title: str) -> None:
    pos = {0: (0.0, 2.0), 1: (0.0, -2.0)}
    for i in range(len(edges) // 2):
        pos[NUM_CELL_INPUTS + i] = (2.6 + 2.2 * i, 1.3 if i % 2 == 0 else -1.3)
    out = (2.8 + 2.2 * (len(edges) // 2), 0.0)
    for node, pair in enumerate(edges_by_node(edges), start=NUM_CELL_INPUTS):
        for k, (op, j) in enumerate(pair):
            draw_edge(ax, pos[j], pos[node], op, rad=0.12 if k == 0 else -0.12)
    for node in concat:
        draw_edge(ax, pos[node], out, None, rad=0.0, color="grey")
    for node, xy in pos.items():
        label = ("c_{k-2}", "c_{k-1}")[node] if node < NUM_CELL_INPUTS else str(node - NUM_CELL_INPUTS)
        draw_node(ax, xy, label, INPUT_COLOR if node < NUM_CELL_INPUTS else NODE_COLOR)
    draw_node(ax, out, "c_{k}", OUTPUT_COLOR)
    ax.set_title(title)
    fit_axes(ax, [*pos.values(), out])


def draw_genotype(arch: str, path: str | Path) -> Path:
    """Draw the normal and reduction cell of the genotype text ``arch`` into the PNG ``path``."""
    genotype = parse_genotype(arch)
    fig, axes = pyplot().subplots(2, 1, figsize=(11, 8), dpi=100)
    _draw_cell(axes[0], genotype.normal, genotype.normal_concat, "normal cell")
    _draw_cell(axes[1], genotype.reduce, genotype.reduce_concat, "reduction cell")
    return save_figure(fig, path)
