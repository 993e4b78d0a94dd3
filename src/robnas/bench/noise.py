"""How much of a benchmark's ranking is noise: replicates, test points, and the noise ceiling.

A benchmark value is a measurement: the architecture was trained with one seed and scored on a
finite set of test points. Both are sources of noise that a ranking inherits:

* **seeds** -- replicate ``r`` of an architecture (``bench build --seeds K``) is another training with
  its own seed, scored on the same test points;
* **test points** -- an accuracy is the share of N points classified correctly; another draw of N
  points gives another share. Per-point outcomes (a bit per point) let a study redraw the points.

:class:`Source` re-measures one :class:`~robnas.bench.measurements.Measurement` under a redraw of the
seeds (replicates drawn with replacement, their mean) and of the test points (multinomial weights).
:func:`noise_ceiling` is Kendall's tau between two replicates of the same measure: no predictor can be
expected to rank the architectures more consistently than a second training of the same cells does.
:func:`noise_draws` gives K re-measurements of many measures with shared draws, from which a study
adds the noise's share to an interval over architectures (:func:`combined_interval`).
:func:`compare_paired` compares two architectures point by point on the same test points (McNemar).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

from robnas.bench import measurements as m
from robnas.bench.benchmark import Benchmark
from robnas.bench.kendall import bootstrap_taus, interval, kendall_tau, resample_counts
from robnas.errors import InvalidValueError, UnknownNameError

#: The normal quantile used to turn a standard deviation into a central interval.
_Z = {0.9: 1.6449, 0.95: 1.9600, 0.99: 2.5758}


def needs_replicates(bench: Benchmark, what: str) -> None:
    """Refuse, with one line, a noise ceiling of a benchmark trained once per architecture."""
    if len(bench.replicates) < 2:
        raise InvalidValueError(f"{what} needs two replicates per architecture, and benchmark {bench.name} has "
                                f"{len(bench.replicates)}: build it with --seeds 2 (an existing build grows with "
                                "--resume --seeds 2)")


@dataclass(frozen=True, eq=False)
class Source:
    """One measure of every architecture, per replicate, and (when stored) per test point.

    ``replicates``: ``(R, A)`` values (oriented, as the measurement); ``counts``: ``(R, A, N)`` uint8, how
    many of the measure's ``divisor`` conditions (1 for one attack radius, 5 for a corruption's severities)
    each point survived, or None when the measure has no per-point outcomes (proxies, old benchmarks)."""

    replicates: np.ndarray
    counts: np.ndarray | None = None
    divisor: int = 1
    sign: float = 1.0

    def draw(self, reps: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
        """``(A,)``: the mean over the replicates ``reps`` (indices, repeats allowed) of the measure recomputed
        with test-point ``weights`` (None: the stored values)."""
        if weights is None or self.counts is None:
            values = self.replicates[reps]
        else:
            shares = self.counts[reps].astype(np.float32) @ weights.astype(np.float32)
            values = self.sign * shares / (float(weights.sum()) * self.divisor)
        if len(reps) == 1:
            return values[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an architecture without any of these replicates: NaN
            return np.nanmean(values, axis=0)

    def restricted(self, keep: np.ndarray) -> "Source":
        return Source(self.replicates[:, keep], None if self.counts is None else self.counts[:, keep], self.divisor,
                      self.sign)


def _counts(bench: Benchmark, key: str, eps: object) -> np.ndarray:
    return np.stack([bench.points(key, eps, replicate=r) for r in bench.replicates]).astype(np.uint8)


def source(bench: Benchmark, measurement: m.Measurement) -> Source:
    """The :class:`Source` of a measurement of :mod:`robnas.bench.measurements` (clean, attack x radius,
    corruption, corruption mean, proxy); per-point outcomes when the benchmark stores them."""
    points = bench.test_points is not None
    kind, key = measurement.kind, measurement.key
    if kind == "proxy":
        sign = m.ORIENTATION[m.proxy_direction(key)][0]
        values = np.stack([np.asarray(bench.query(key, m.PROXY_MEASURE, replicate=r), dtype=np.float64)
                           for r in bench.replicates])
        return Source(sign * values)
    if kind == "clean":
        return Source(bench.replicate_values("clean"), _counts(bench, "clean", None) if points else None)
    if kind == "attack":
        return Source(bench.replicate_values(key, eps=measurement.eps),
                      _counts(bench, key, measurement.eps) if points else None)
    if kind == "corruption":
        severities = bench.axis(key)
        counts = sum(_counts(bench, key, s).astype(np.uint8) for s in severities) if points else None
        return Source(bench.replicate_values(key).mean(axis=2), counts, len(severities))
    if measurement.label == "corruption mean":
        keys = bench.result_keys("corruption")
        values = np.mean([bench.replicate_values(k).mean(axis=2) for k in keys], axis=0)
        counts = None
        if points:
            counts = sum(_counts(bench, k, s) for k in keys for s in bench.axis(k))
        return Source(values, counts, sum(len(bench.axis(k)) for k in keys))
    raise UnknownNameError(f"no replicate source for measurement {measurement.label!r} ({kind})")


@dataclass(frozen=True)
class Ceiling:
    """Kendall's tau between two replicates of one measure, its interval, and the replicate SD."""

    tau: float
    low: float
    high: float
    replicate_sd: float          # pooled SD between replicates of an architecture (the measure's unit)
    spread_sd: float             # SD over architectures of the replicate mean
    pairs: int                   # architectures with two finite replicates


def noise_ceiling(src: Source, resamples: int = 200, confidence: float = 0.95, seed: int = 0) -> Ceiling:
    """tau(replicate 0, replicate 1) over the architectures that have both, with a bootstrap interval over
    them; the pooled SD between an architecture's replicates (all of them) and the SD of the replicate
    means over architectures."""
    reps = src.replicates
    if reps.shape[0] < 2:
        raise InvalidValueError("a noise ceiling needs two replicates of the measure; build with --seeds 2")
    both = np.isfinite(reps[0]) & np.isfinite(reps[1])
    tau = kendall_tau(reps[0], reps[1])
    low = high = float("nan")
    if resamples and both.sum() >= 2:
        counts = resample_counts(len(reps[0]), resamples, seed)
        low, high = interval(bootstrap_taus(reps[0], reps[1], counts), confidence)
    present = np.isfinite(reps)
    several = present.sum(axis=0) >= 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # architectures with one replicate have no variance
        within = np.nanvar(reps[:, several], axis=0, ddof=1)
        mean = np.nanmean(reps, axis=0)
    return Ceiling(tau, low, high, float(np.sqrt(np.nanmean(within))) if within.size else float("nan"),
                   float(np.nanstd(mean)), int(both.sum()))


def noise_draws(sources: list[Source], draws: int, seed: int, points: int | None) -> np.ndarray:
    """``(len(sources), draws, A)`` float32: each source re-measured ``draws`` times, every draw redrawing
    the replicates (with replacement, their mean) and the test points (multinomial, when per-point outcomes
    exist) -- the same redraw for every source, so paired measures stay paired."""
    rng = np.random.default_rng(seed)
    count = sources[0].replicates.shape[0] if sources else 1
    out = np.empty((len(sources), draws, sources[0].replicates.shape[1] if sources else 0), dtype=np.float32)
    for d in range(draws):
        reps = rng.integers(0, count, count)
        weights = None if points is None else rng.multinomial(points, np.full(points, 1.0 / points))
        for i, src in enumerate(sources):
            out[i, d] = src.draw(reps, weights)
    return out


def noise_sd(x_draws: np.ndarray, y_draws: np.ndarray) -> float:
    """The SD of tau over paired noise draws (rows of ``x_draws`` and ``y_draws``)."""
    taus = [kendall_tau(x, y) for x, y in zip(x_draws, y_draws)]
    finite = [t for t in taus if math.isfinite(t)]
    return float(np.std(finite, ddof=1)) if len(finite) > 1 else float("nan")


def combined_interval(tau: float, arch_low: float, arch_high: float, noise: float,
                      confidence: float) -> tuple[float, float]:
    """An interval for tau that holds the resampling of architectures *and* the noise of seeds and test
    points: the architecture bootstrap's half-widths widened by the noise SD in quadrature (the two are
    independent sources of variance)."""
    if not (math.isfinite(tau) and math.isfinite(arch_low) and math.isfinite(noise)):
        return arch_low, arch_high
    z = _Z.get(round(confidence, 2), 1.96)
    below = math.sqrt((tau - arch_low) ** 2 + (z * noise) ** 2)
    above = math.sqrt((arch_high - tau) ** 2 + (z * noise) ** 2)
    return max(-1.0, tau - below), min(1.0, tau + above)


@dataclass(frozen=True)
class PairedComparison:
    """Two architectures on the same test points (McNemar): which points only one of them gets right."""

    a: str
    b: str
    accuracy_a: float
    accuracy_b: float
    only_a: int                 # points A classifies correctly and B does not
    only_b: int
    p_value: float              # exact two-sided McNemar test (binomial on the discordant points)

    @property
    def verdict(self) -> str:
        if self.p_value >= 0.05:
            return "no detectable difference on these points"
        return f"{self.a if self.only_a > self.only_b else self.b} is better on these points (p = {self.p_value:.3g})"


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar p-value: under no difference, each discordant point is a fair coin."""
    n = only_a + only_b
    return 1.0 if n == 0 else float(binomtest(only_a, n, 0.5).pvalue)


def compare_paired(bench: Benchmark, a: str | int, b: str | int, key: str = "clean", eps: object = None,
                   replicate: int = 0) -> PairedComparison:
    """McNemar's paired comparison of two architectures under ``key`` at ``eps`` on one replicate's test points.
    It says whether the two differ on these points; it does not hold the seed noise (compare replicates, or the
    noise ceiling, for that)."""
    ia, ib = bench.lookup(a), bench.lookup(b)
    bits = bench.points(key, eps, replicate)
    first, second = bits[ia], bits[ib]
    only_a, only_b = int((first & ~second).sum()), int((~first & second).sum())
    return PairedComparison(bench.archs()[ia], bench.archs()[ib], float(first.mean()), float(second.mean()), only_a,
                            only_b, mcnemar_p(only_a, only_b))
