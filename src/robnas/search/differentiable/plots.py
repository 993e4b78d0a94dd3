"""``alphas.png``: the evolution of the softmaxed alphas of a differentiable search.

The derived cells are drawn by their space (``get_space(name).draw_cell``); this module plots what
belongs to the search itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from robnas.store.figures import pyplot, save_figure


def plot_alphas(history: Sequence[dict[str, Any]], op_names: Sequence[str], edge_names: Sequence[str],
                path: str | Path) -> Path:
    """``alphas.png``: softmax(alpha) of every op on every edge against the epoch, one panel per edge."""
    plt = pyplot()
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
    return save_figure(fig, Path(path), tight=False)
