"""Kendall's tau-b and its bootstrap over architectures.

:func:`kendall_tau` is ``scipy.stats.kendalltau`` (tau-b: ties in either ranking are corrected for)
on the pairs where both values are finite. :func:`bootstrap_taus` gives tau-b on every bootstrap
resample of the architectures *exactly* (it equals ``kendalltau(x[idx], y[idx])`` for the resample
``idx``, to rounding; a test checks it) but computes all resamples of one pair at once.

How: a resample is a vector of counts ``w`` (how often each architecture was drawn), so tau-b of the
resample is a weighted tau-b of the original points -- a pair of distinct architectures counts
``w_i * w_j`` times, an architecture drawn twice is a pair tied in both rankings. Sorting by
``(x, y)`` once, the discordant pairs are the weighted inversions of ``y`` in that order; a bottom-up
merge sort finds, at each of its log2(n) levels, for every element of a right half where its value
falls in the sorted left half. Those positions depend only on the data, not on the resample, so they
are computed once and every resample's weighted inversion count is a few gathers and cumulative sums
over a (points x resamples) array. The tie corrections are per-group sums of counts. The cost per
resample is a handful of numpy passes over n log n numbers instead of a Python-level call.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import kendalltau

#: Resamples processed together (keeps the working arrays in cache).
_CHUNK = 64


def kendall_tau(x: np.ndarray, y: np.ndarray) -> float:
    """scipy's tau-b over the pairs where both values are finite (NaN if fewer than two or constant)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        return float("nan")
    return float(kendalltau(x[ok], y[ok]).statistic)


def resample_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    """``(resamples, n)`` bootstrap counts: each row draws n architectures with replacement (seeded)."""
    rng = np.random.default_rng(seed)
    out = np.empty((resamples, n), dtype=np.int32)
    for b in range(resamples):
        out[b] = np.bincount(rng.integers(0, n, n), minlength=n)
    return out


def _dense_ranks(v: np.ndarray) -> np.ndarray:
    return np.unique(v, return_inverse=True)[1].astype(np.int64).reshape(-1)


def _group_starts(sorted_ranks: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts in a sorted sequence."""
    return np.flatnonzero(np.r_[True, sorted_ranks[1:] != sorted_ranks[:-1]])


def _tied_pairs(weights: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per resample (columns of ``weights``, rows grouped from ``starts``): sum over groups of C(count, 2)."""
    groups = np.add.reduceat(weights, starts, axis=0).astype(np.int64)
    return (groups * (groups - 1)).sum(axis=0) // 2


class _MergeLevels:
    """For y in (x, y) order: per merge level, the slots of left/right halves and, for each right
    element, the range of left elements with a strictly larger y (independent of any weights)."""

    def __init__(self, ys: np.ndarray) -> None:
        n = len(ys)
        top = int(ys.max()) + 1 if n else 1
        slots = np.arange(n)
        pos = np.arange(n)  # pos[slot]: the element sitting in that slot (halves sorted by y)
        self.levels: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        size = 1
        while size < n:
            block = slots // (2 * size)
            right = (slots % (2 * size)) >= size
            left_slots, right_slots = np.flatnonzero(~right), np.flatnonzero(right)
            if right_slots.size:
                left_keys = block[left_slots] * top + ys[pos[left_slots]]
                right_keys = block[right_slots] * top + ys[pos[right_slots]]
                first_larger = np.searchsorted(left_keys, right_keys, side="right")
                block_end = np.searchsorted(block[left_slots], block[right_slots], side="right")
                self.levels.append((pos[left_slots], pos[right_slots], first_larger, block_end))
            pos = pos[np.argsort(block * top + ys[pos], kind="stable")]
            size *= 2

    def discordant(self, weights: np.ndarray) -> np.ndarray:
        """Weighted inversions for int32 ``weights`` of shape (n, resamples) in (x, y) order."""
        total = np.zeros(weights.shape[1], dtype=np.int64)
        for left, right, first_larger, block_end in self.levels:
            # suffix sums of the left halves' weights (each <= n: int32 is exact)
            suffix = np.zeros((len(left) + 1, weights.shape[1]), dtype=np.int32)
            np.cumsum(weights[left][::-1], axis=0, out=suffix[-2::-1])
            larger = suffix[first_larger] - suffix[block_end]
            larger *= weights[right]  # <= n * n: still exact in int32 for n < 46341
            total += larger.sum(axis=0, dtype=np.int64)
        return total


def bootstrap_taus(x: np.ndarray, y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """tau-b of every resample (rows of ``counts``) of the points where both x and y are finite.

    A resample that leaves a ranking constant has no tau (NaN)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    counts = counts[:, ok]
    if ok.sum() < 2:
        return np.full(counts.shape[0], np.nan)
    xr, yr = _dense_ranks(x[ok]), _dense_ranks(y[ok])
    order = np.lexsort((yr, xr))           # by x, ties by y: x groups and (x, y) groups are runs
    x_starts = _group_starts(xr[order])
    both_starts = _group_starts(xr[order] * (int(yr.max()) + 1) + yr[order])
    y_order = np.argsort(yr, kind="stable")
    y_starts = _group_starts(yr[y_order])
    levels = _MergeLevels(yr[order])
    out = np.empty(counts.shape[0])
    for start in range(0, counts.shape[0], _CHUNK):
        chunk = counts[start:start + _CHUNK].T      # (points, resamples)
        weights = np.ascontiguousarray(chunk[order], dtype=np.int32)
        drawn = weights.sum(axis=0, dtype=np.int64)
        pairs = drawn * (drawn - 1) // 2
        x_ties, both = _tied_pairs(weights, x_starts), _tied_pairs(weights, both_starts)
        y_ties = _tied_pairs(np.ascontiguousarray(chunk[y_order]), y_starts)
        discordant = levels.discordant(weights)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:start + chunk.shape[1]] = ((pairs - x_ties - y_ties + both - 2 * discordant)
                                                 / np.sqrt((pairs - x_ties).astype(np.float64) * (pairs - y_ties)))
    return out


def interval(taus: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central ``confidence`` percentile interval of bootstrap taus (NaN without finite ones)."""
    finite = taus[np.isfinite(taus)]
    if not finite.size:
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)
