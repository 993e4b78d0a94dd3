"""Pareto helpers against brute force and pymoo, and the search reports (CSV and PNGs)."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from matplotlib.image import imread

from robnas.errors import InvalidValueError
from robnas.report.search_plots import best_so_far, plot_best_so_far, plot_front, write_front_csv
from robnas.search.discrete.pareto import dominates, front_indices, hypervolume, non_dominated_fronts, non_dominated_mask


def test_non_dominated_mask_matches_brute_force_with_ties():
    rng = np.random.default_rng(0)
    points = rng.integers(0, 6, size=(80, 3)).astype(float)  # small integers: many ties and duplicates
    brute = [not any(dominates(q, p) for q in points) for p in points]
    assert non_dominated_mask(points).tolist() == brute
    fronts = non_dominated_fronts(points)
    assert sorted(np.concatenate(fronts).tolist()) == list(range(80))
    for better, worse in zip(fronts, fronts[1:]):  # each later member is dominated by an earlier front
        assert all(any(dominates(points[i], points[j]) for i in better) for j in worse)
    with_failure = np.vstack([points, [[-1.0, -1.0, math.inf]]])
    assert len(points) not in front_indices(with_failure)


def test_hypervolume_is_exact_and_agrees_with_pymoo():
    from pymoo.indicators.hv import HV

    assert hypervolume([[1, 3], [2, 2], [3, 1]], [4, 4]) == pytest.approx(6.0)
    assert hypervolume([[5, 5]], [4, 4]) == 0.0
    rng = np.random.default_rng(1)
    for dims in (2, 3):
        points = rng.random((40, dims))
        reference = np.full(dims, 1.1)
        assert hypervolume(points, reference) == pytest.approx(float(HV(ref_point=reference)(points)), rel=1e-9)


ROWS = [("a", {"error": 1.0, "cost": 5.0, "flops": 10}), ("b", {"error": 2.0, "cost": 2.0, "flops": 4}),
        ("c", {"error": 3.0, "cost": 3.0, "flops": 6}), ("d", {"error": 0.5, "cost": math.nan, "flops": 1}),
        ("e", {"error": 4.0, "cost": 1.0, "flops": 2})]


def test_front_csv_lists_the_pareto_rows_with_every_metric(tmp_path):
    out = write_front_csv(ROWS, ["error", "cost"], tmp_path / "front.csv")
    with open(out, newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["arch"] for r in table] == ["a", "b", "e"]  # c is dominated by b; d failed
    assert list(table[0]) == ["arch", "error", "cost", "flops"] and float(table[1]["cost"]) == 2.0
    with pytest.raises(InvalidValueError):
        write_front_csv(ROWS, ["error", "latency"], tmp_path / "bad.csv")


def test_front_and_best_so_far_pngs(tmp_path):
    two = imread(plot_front(ROWS, ["error", "cost"], tmp_path / "front2.png"))
    three = imread(plot_front(ROWS, ["error", "cost", "flops"], tmp_path / "front3.png"))
    assert three.shape[1] > 2.5 * two.shape[1]  # one panel per pair of objectives
    with pytest.raises(InvalidValueError):
        plot_front(ROWS, ["error"], tmp_path / "front1.png")
    assert best_so_far([3.0, math.nan, 2.0, 5.0]).tolist() == [3.0, 3.0, 2.0, 2.0]
    curve = imread(plot_best_so_far({"rs": [[3, 2, 1], [4, 4, 0]], "ls": [[1, 1, 1]]}, "error",
                                    tmp_path / "best.png"))
    assert curve.shape[0] > 100 and not (tmp_path / "best.png.tmp").exists()
