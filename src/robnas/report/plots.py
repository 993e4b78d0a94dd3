"""Figure 1 of Devaguptapu et al.: clean vs robust (PGD) accuracy, bubble area proportional to parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from robnas.eps import Eps
from robnas.store.figures import pyplot, save_figure


def plot_clean_vs_robust(rows: list[dict[str, Any]], path: str | Path, eps: Eps, key: str = "pgd",
                         title: str | None = None) -> Path:
    """Each row's clean accuracy against its accuracy under threat model ``key`` at ``eps``."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    biggest = max(r["params"] for r in rows) or 1
    for r in rows:
        rec = r["evaluation"]
        x, y = rec.clean.accuracy, rec.threat_models[key].by_eps[eps].accuracy
        size = 2000.0 * r["params"] / biggest
        ax.scatter([x], [y], s=max(size, 30.0), alpha=0.45, edgecolors="black")
        ax.annotate(f"{r['label']}\n{r['params'] / 1e6:.2f}M", (x, y), ha="center", va="center", fontsize=8)
    ax.set_xlabel("clean accuracy (%)")
    ax.set_ylabel(f"{rows[0]['evaluation'].threat_models[key].title} accuracy (%), eps = {eps}")
    ax.set_title(title or "Clean vs robust accuracy (bubble area = parameters)")
    ax.grid(True, alpha=0.3)
    ax.margins(0.25)
    fig.tight_layout()
    return save_figure(fig, path, tight=False)
