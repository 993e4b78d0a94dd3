"""Figures written as PNG files: headless matplotlib and an atomic save.

The one place robnas chooses matplotlib's backend and writes a figure, for every layer that draws
(the spaces' cell drawings, the search's alpha plots). matplotlib is imported on first use only:
importing it costs about a second that a run without figures should not pay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from robnas.store.atomic import atomic_path


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (no display on servers and CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path, tight: bool = True) -> Path:
    """Write ``fig`` to ``path`` as a PNG atomically and close it; returns the path.

    A tight bounding box costs a second full draw; many-panel figures that lay themselves out pass
    ``tight=False``.
    """
    target = Path(path)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight" if tight else None)
    pyplot().close(fig)
    return target
