"""AdvRush Figure 3: input loss landscapes as 3-D surfaces (top row) and contour maps (bottom row).

One column per model, all on the same loss scale, so a smoother landscape is visibly flatter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from robnas.store.atomic import write_json_atomic
from robnas.store.figures import pyplot, save_figure


def plot_landscapes(landscapes: list[tuple[str, dict[str, Any]]], path: Path, title: str | None = None) -> Path:
    """``landscapes`` are ``(label, Landscape.to_dict())`` pairs; writes one PNG atomically."""
    plt = pyplot()

    cols = len(landscapes)
    fig = plt.figure(figsize=(4.2 * cols, 7.6), dpi=110)
    top = max(max(max(row) for row in grid["loss"]) for _, grid in landscapes)
    bottom = min(min(min(row) for row in grid["loss"]) for _, grid in landscapes)
    for col, (label, grid) in enumerate(landscapes):
        axis = np.asarray(grid["axis"])
        loss = np.asarray(grid["loss"])  # loss[i, j]: i along the gradient sign, j along the random direction
        n_dir, r_dir = np.meshgrid(axis, axis, indexing="ij")
        ax3 = fig.add_subplot(2, cols, col + 1, projection="3d")
        ax3.plot_surface(n_dir, r_dir, loss, cmap="viridis", vmin=bottom, vmax=top, linewidth=0, antialiased=True)
        ax3.set_zlim(bottom, top)
        ax3.set_xlabel("n (grad sign)")
        ax3.set_ylabel("r (random)")
        ax3.set_zlabel("loss")
        ax3.tick_params(labelsize=6)
        ax3.set_title(f"{label}\nclean loss {grid['clean_loss']:.3f}, {grid['points']} points", fontsize=9)
        ax2 = fig.add_subplot(2, cols, cols + col + 1)
        levels = np.linspace(bottom, top, 16) if top > bottom else 16
        contour = ax2.contourf(r_dir, n_dir, loss, levels=levels, cmap="viridis")
        ax2.plot([0], [0], marker="+", color="white")
        ax2.set_xlabel("r (random)")
        ax2.set_ylabel("n (gradient sign)")
        ax2.set_aspect("equal")
        fig.colorbar(contour, ax=ax2, shrink=0.8, format="%.2f")
    fig.suptitle(title or f"input loss landscape, range +-{landscapes[0][1]['range']:.4g}")
    fig.tight_layout()
    save_figure(fig, path, tight=False)
    return path


def write_landscape_report(results_dir: Path, landscapes: list[tuple[str, dict[str, Any]]],
                           meta: dict[str, Any]) -> list[Path]:
    """``landscape.json`` (every model's grid) and ``landscape.png`` (the figure)."""
    json_path = results_dir / "landscape.json"
    write_json_atomic(json_path, {**meta, "models": {label: grid for label, grid in landscapes}})
    return [json_path, plot_landscapes(landscapes, results_dir / "landscape.png",
                                       title=f"{meta.get('dataset', '')}: input loss landscape")]
