"""Pareto dominance for minimised objectives: non-dominated masks, fronts and hypervolume.

Small pure numpy functions shared by the strategies (``best()``) and the reports. pymoo has its own
non-dominated sorting; this one has no state and no dependency, so a report can rank rows read
back from the results database without building a pymoo population.
"""

from __future__ import annotations

import numpy as np

from robnas.errors import InvalidValueError


def _as_points(points: np.ndarray | list[list[float]]) -> np.ndarray:
    array = np.asarray(points, dtype=float)
    if array.ndim != 2:
        raise InvalidValueError(f"objective points must be a 2-D array (rows x objectives), got shape {array.shape}")
    return array


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """``a`` is no worse than ``b`` in every objective and better in one (minimisation)."""
    return bool(np.all(a <= b) and np.any(a < b))


def non_dominated_mask(points: np.ndarray | list[list[float]]) -> np.ndarray:
    """Boolean mask of the rows no other row dominates. Equal rows do not dominate each other."""
    p = _as_points(points)
    if len(p) == 0:
        return np.zeros(0, dtype=bool)
    no_worse = np.all(p[:, None, :] <= p[None, :, :], axis=2)   # [i, j]: i no worse than j everywhere
    better = np.any(p[:, None, :] < p[None, :, :], axis=2)
    dominated = np.any(no_worse & better, axis=0)
    return ~dominated


def front_indices(points: np.ndarray | list[list[float]]) -> list[int]:
    """Indices of the Pareto set, sorted by objective values (then index).

    Rows with a non-finite value (failed evaluations) are left out unless every row has one.
    """
    p = _as_points(points)
    finite = np.isfinite(p).all(axis=1)
    candidates = np.flatnonzero(finite) if finite.any() else np.arange(len(p))
    chosen = candidates[non_dominated_mask(p[candidates])]
    return sorted((int(i) for i in chosen), key=lambda i: (tuple(p[i]), i))


def non_dominated_fronts(points: np.ndarray | list[list[float]]) -> list[np.ndarray]:
    """Row indices grouped into fronts: front 0 is the Pareto set, front 1 the next layer, ..."""
    p = _as_points(points)
    remaining = np.arange(len(p))
    fronts = []
    while remaining.size:
        mask = non_dominated_mask(p[remaining])
        fronts.append(remaining[mask])
        remaining = remaining[~mask]
    return fronts


def hypervolume(points: np.ndarray | list[list[float]], reference: np.ndarray | list[float]) -> float:
    """Volume dominated by ``points`` and bounded by ``reference`` (exact, any dimension).

    Recursive slicing along the last objective: fine for the few hundred points of a search.
    Points not strictly better than ``reference`` in every objective contribute nothing.
    """
    p = _as_points(points)
    ref = np.asarray(reference, dtype=float).reshape(-1)
    if p.size and p.shape[1] != ref.size:
        raise InvalidValueError(f"reference point has {ref.size} objectives, points have {p.shape[1]}")
    p = p[np.all(p < ref, axis=1)] if p.size else p
    if len(p) == 0:
        return 0.0
    return _hv(p[non_dominated_mask(p)], ref)


def _hv(p: np.ndarray, ref: np.ndarray) -> float:
    if p.shape[1] == 1:
        return float(ref[0] - p[:, 0].min())
    order = np.argsort(p[:, -1], kind="stable")
    p = p[order]
    volume = 0.0
    for i in range(len(p)):
        upper = p[i + 1, -1] if i + 1 < len(p) else ref[-1]
        depth = upper - p[i, -1]
        if depth > 0:
            slab = p[: i + 1, :-1]
            volume += depth * _hv(slab[non_dominated_mask(slab)], ref[:-1])
    return volume
