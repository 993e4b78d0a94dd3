"""``robnas.search.run``: one call runs a discrete search, on a plain evaluator or on a benchmark."""

from __future__ import annotations

import numpy as np
import pytest

import robnas.bench
import robnas.search
from robnas.errors import InvalidValueError
from robnas.spaces.nb201 import parse_arch


def convolutions(arch: str) -> dict[str, float]:
    """A plain evaluator: fewer 3x3 convolutions is worse (minimised objective), fewer parameters better."""
    ops = [op for node in parse_arch(arch) for op, _ in node]
    return {"error": 6.0 - ops.count("nor_conv_3x3"), "size": float(ops.count("nor_conv_3x3") + ops.count("nor_conv_1x1"))}


def test_a_plain_callable_is_searched_and_resumed_from_its_database(tmp_path):
    result = robnas.search.run("nb201", "re", ["error"], convolutions, budget=60, seed=1, db=tmp_path / "r.db")
    assert len(result.history) == 60 and result.stats.stopped == "evaluation budget spent"
    assert result.best[1]["error"] == min(t.metrics["error"] for t in result.history)
    again = robnas.search.run("nb201", "re", ["error"], convolutions, budget=60, seed=1, db=tmp_path / "r.db")
    assert again.stats.computed == 0 and again.stats.cache_hits == 60  # the database answered every evaluation
    assert [t.arch for t in again.history] == [t.arch for t in result.history]


def test_two_objectives_give_a_front():
    result = robnas.search.run("nb201", "nsga2", ["error", "size"], convolutions, budget=40, seed=0,
                               strategy_params={"population_size": 10, "offspring": 10})
    points = np.array([[m["error"], m["size"]] for _, m in result.front])
    for p in points:  # nobody on the front is dominated by another member
        assert not any((q <= p).all() and (q < p).any() for q in points)


def test_a_benchmark_answers_from_its_table(full_bench):
    with robnas.bench.open(full_bench) as bench:
        result = robnas.search.run("nb201", "ls", ["robust_error:fgsm@4/255"], bench, budget=50, seed=0)
        values = bench.query("fgsm@Linf", eps="4/255")
        found = result.best[1]["robust_error:fgsm@4/255"]
        assert found == pytest.approx(100 * (1 - values[bench.lookup(result.best[0])]))


def test_bad_arguments_are_one_line():
    with pytest.raises(InvalidValueError, match="budget"):
        robnas.search.run("nb201", "rs", ["error"], convolutions, budget=0)
    with pytest.raises(InvalidValueError, match="callable"):
        robnas.search.run("nb201", "rs", ["error"], 42, budget=5)
    with pytest.raises(InvalidValueError, match="objective"):
        robnas.search.run("nb201", "rs", [], convolutions, budget=5)
