"""``cells.png`` of a macro genome: each phase's decoded graph, one panel per phase.

A panel shows what the decoder builds (:func:`robnas.spaces.macro.genome.decode_phase`), not the raw
bits: the phase input, the active conv3x3-BN-ReLU nodes (numbered as in the genome), an arrow for
every connection after the repair (nodes without inputs read the phase input, nodes without
consumers feed the output), and the output. The residual bit is the input -> output arrow labelled
``residual``. An inactive phase (no connection bit set) is skipped by the network and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from robnas.spaces.drawing import INPUT_COLOR, NODE_COLOR, OUTPUT_COLOR, draw_edge, draw_node, fit_axes
from robnas.spaces.macro.genome import PhaseGraph, decode_phase, parse_genome
from robnas.store.figures import pyplot, save_figure

_STEP = 2.0  # horizontal distance between consecutive nodes


def _bulge(hops: int) -> float:
    """Height of the arc of an edge that jumps over ``hops - 1`` nodes (0: a straight arrow)."""
    return 0.0 if hops <= 1 else 0.4 + 0.18 * (hops - 2)


def _draw_phase(ax: Any, graph: PhaseGraph, title: str) -> None:
    pos = {0: (0.0, 0.0), **{node: (_STEP * (k + 1), 0.0) for k, node in enumerate(graph.nodes)}}
    out = (_STEP * (len(graph.nodes) + 1), 0.0)
    highest = 0.0

    def edge(start: tuple[float, float], end: tuple[float, float], sign: float, label: str | None = None,
             color: str = "black") -> None:
        # Edges that jump over nodes arc (above or below the line) so that they do not cross the boxes;
        # matplotlib's arc3 bulges by rad * length / 2.
        nonlocal highest
        length = end[0] - start[0]
        height = _bulge(round(length / _STEP))
        highest = max(highest, height)
        draw_edge(ax, start, end, label, rad=sign * 2 * height / length, color=color)

    for k, (node, inputs) in enumerate(zip(graph.nodes, graph.inputs)):
        for j in inputs:
            edge(pos[j], pos[node], -1.0 if k % 2 else 1.0)
    for j in graph.output:
        edge(pos[j], out, 1.0, "residual" if j == 0 else None, "grey" if j == 0 else "black")
    draw_node(ax, pos[0], "in", INPUT_COLOR)
    for node in graph.nodes:
        draw_node(ax, pos[node], str(node), NODE_COLOR)
    draw_node(ax, out, "out", OUTPUT_COLOR)
    ax.set_title(title, fontsize=10)
    fit_axes(ax, [*pos.values(), out])
    ax.set_ylim(-highest - 0.5, highest + 0.5)  # room for the arcs above and below the line of nodes


def _draw_inactive(ax: Any, title: str) -> None:
    ax.text(0.5, 0.5, "inactive: no connection bit set, the network skips this phase", ha="center",
            va="center", fontsize=9, color="grey", transform=ax.transAxes)
    ax.set_title(title, fontsize=10)
    ax.axis("off")


def draw_genome(arch: str, path: str | Path) -> Path:
    """Draw every phase of the genome ``arch`` into the PNG ``path`` (conv nodes: conv3x3-BN-ReLU)."""
    phases = parse_genome(arch)
    graphs = [decode_phase(bits) for bits in phases]
    widest = max((len(graph.nodes) for graph in graphs if graph is not None), default=1)
    fig, axes = pyplot().subplots(len(phases), 1, squeeze=False, dpi=100,
                                  figsize=(max(6.0, 1.6 * (widest + 2)), 3.0 * len(phases)))
    active = 0
    for p, (bits, graph) in enumerate(zip(phases, graphs)):
        name = f"phase {p + 1} ({''.join(map(str, bits))})"
        if graph is None:
            _draw_inactive(axes[p][0], name)
            continue
        _draw_phase(axes[p][0], graph, f"{name}: width {2 ** active if active else ''}C")
        active += 1
    return save_figure(fig, path)
