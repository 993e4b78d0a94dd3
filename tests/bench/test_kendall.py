"""Kendall's tau-b: scipy's on ties, the exact vectorised bootstrap, seeding, and a proxy that is robust accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau

import robnas.bench
from robnas.bench import correlate as lib
from robnas.bench.kendall import bootstrap_taus, interval, kendall_tau, resample_counts
from robnas.bench.store import ArchResult, BenchmarkFile


def test_tau_is_scipys_tau_b_with_ties_and_nan_pairs_left_out():
    x = np.array([1, 1, 2, 2, 3, 3, 3, 4, np.nan, 5.0])
    y = np.array([2, 1, 2, 2, 4, 3, 3, 1, 7.0, np.nan])
    ok = slice(0, 8)
    expected = kendalltau(x[ok], y[ok]).statistic  # scipy's default variant is tau-b
    assert kendall_tau(x, y) == pytest.approx(expected, abs=1e-15)
    assert kendall_tau(x[ok], y[ok]) == pytest.approx(kendalltau(x[ok], y[ok], variant="b").statistic, abs=1e-15)
    assert np.isnan(kendall_tau(np.array([1.0, np.nan]), np.array([1.0, 2.0])))


@pytest.mark.parametrize("n", [2, 5, 40, 257])
def test_bootstrap_equals_scipy_on_every_resample(n):
    rng = np.random.default_rng(n)
    x = rng.integers(0, 4, n).astype(float)            # many ties in x ...
    y = np.round(x + rng.normal(0, 1.5, n))            # ... and in y
    if n > 5:
        x[3], y[7] = np.nan, np.nan
    counts = resample_counts(n, 25, seed=11)
    ours = bootstrap_taus(x, y, counts)
    ok = np.isfinite(x) & np.isfinite(y)
    for b, w in enumerate(counts):
        idx = np.repeat(np.arange(n), w)
        idx = idx[ok[idx]]
        ref = kendalltau(x[idx], y[idx]).statistic if len(idx) > 1 else np.nan
        if np.isnan(ref):
            assert np.isnan(ours[b])
        else:
            assert ours[b] == pytest.approx(ref, abs=1e-12)


def test_bootstrap_is_seeded():
    rng = np.random.default_rng(0)
    x, y = rng.random(200), rng.random(200)
    a = bootstrap_taus(x, y, resample_counts(200, 50, seed=3))
    b = bootstrap_taus(x, y, resample_counts(200, 50, seed=3))
    c = bootstrap_taus(x, y, resample_counts(200, 50, seed=4))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert resample_counts(200, 50, seed=3).sum(axis=1).tolist() == [200] * 50
    low, high = interval(a, 0.95)
    assert low < kendall_tau(x, y) < high


def test_a_proxy_that_is_robust_accuracy_ranks_it_perfectly(tmp_path):
    """jacobian is registered as "larger = less robust": stored as minus the robust accuracy, it is
    oriented back to it, so its tau with that accuracy is +1 with a tight interval."""
    from robnas.spaces.nb201 import arch_str, unique_key
    from robnas.spaces.nb201.index import unique_ids

    rng = np.random.default_rng(0)
    ids = unique_ids()[:120]
    fgsm = rng.random(len(ids))
    with BenchmarkFile(tmp_path / "b.sqlite", readonly=False) as bench:
        bench.set_meta({"space": "nb201", "dataset": "digits", "axes": {
            "clean": {"kind": "clean", "axis": []}, "fgsm@Linf": {"kind": "attack", "axis": ["1/255"], "norm": "Linf"},
            "proxy:jacobian@trained": {"kind": "proxy", "axis": []}}})
        bench.add_many(ArchResult(unique_key(arch_str(i)), arch_str(i), ident=i, measures={
            ("clean", "accuracy"): rng.random(), ("fgsm@Linf", "accuracy"): [fgsm[k]],
            ("proxy:jacobian@trained", "value"): -3.0 * fgsm[k]}) for k, i in enumerate(ids))
    with robnas.bench.open(tmp_path / "b.sqlite") as bench:
        (group,) = lib.groups(bench, top_percent=0)
        group.cells = [lib.correlate_row(t) for t in group.tasks(200, seed=1, confidence=0.95)]
    cell = group.cell("jacobian@trained", "fgsm 1/255")
    assert cell.tau == pytest.approx(1.0) and cell.n == 120
    assert cell.low == pytest.approx(1.0) and cell.high == pytest.approx(1.0)
    assert abs(group.cell("jacobian@trained", "clean").tau) < 0.2
    assert group.rows[1].group == "more robust (sign flipped)"
