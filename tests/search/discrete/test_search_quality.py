"""Search quality on synthetic tables over the real nb201 space (6466 distinct cells).

The single-objective table has 26 local minima under the one-edit neighbourhood (counted offline
over every class), so a neighbourhood search must restart or breed to do well; random search
with 100 evaluations ends on average ~4.8 above the optimum. Every comparison runs the same seeds.
"""

from __future__ import annotations

import numpy as np
import pytest

from robnas.errors import InvalidValueError
from robnas.search.discrete import create_strategy
from robnas.search.discrete.pareto import dominates, hypervolume
from robnas.spaces import get_space
from tests.search.discrete.tables import TinySpace, best_found, drive, nb201_table

BUDGET = 100


def _mean_regret(name: str, seeds: range, **params) -> float:
    table = nb201_table(1)
    regrets = []
    for seed in seeds:
        strategy = create_strategy(name, table.space, ["error"], seed, **params)
        regrets.append(best_found(table, drive(strategy, table.metrics, BUDGET)) - table.optimum("error"))
    return float(np.mean(regrets))


@pytest.mark.parametrize("name, params, seeds", [
    ("ls", {}, range(10)),
    ("re", {}, range(10)),
    # fewer seeds and a lighter predictor keep this test at a few seconds (the defaults: 200 steps, 100 candidates)
    ("bananas", {"steps": 30, "candidates": 40}, range(5)),
])
def test_strategy_beats_random_search(name, params, seeds):
    random_regret = _mean_regret("rs", seeds)
    assert random_regret > 2.0  # the table is not trivial for random search
    assert _mean_regret(name, seeds, **params) < 0.75 * random_regret


def _normalised_hv(table, rows) -> float:
    points = table.points()
    low, high = points.min(axis=0), points.max(axis=0)
    front = np.array([[m[o] for o in table.objectives] for _, m in rows])
    return hypervolume((front - low) / (high - low), np.full(len(table.objectives), 1.1))


@pytest.mark.parametrize("n_objectives", [2, 3])
def test_nsga2_front_is_pareto_duplicate_free_and_beats_random_search(n_objectives):
    table = nb201_table(n_objectives)
    settings = {"population_size": 20, "offspring": 20, "generations": 10}  # 200 evaluations
    nsga_hv, random_hv = [], []
    for seed in range(5):
        nsga = create_strategy("nsga2", table.space, table.objectives, seed, **settings)
        evaluated = drive(nsga, table.metrics, 10_000)
        assert len(evaluated) == 200 and nsga.finished
        front = nsga.best()
        keys = [table.space.key(a) for a, _ in front]
        assert len(keys) == len(set(keys))
        values = [np.array([m[o] for o in table.objectives]) for _, m in front]
        told = [np.array([m[o] for o in table.objectives]) for _, m in nsga.history]
        assert not any(dominates(t, v) for v in values for t in told)  # nothing evaluated dominates it
        assert all(any(np.array_equal(t, v) or dominates(v, t) for v in values) for t in told)  # it is complete
        nsga_hv.append(_normalised_hv(table, front))
        rs = create_strategy("rs", table.space, table.objectives, seed)
        drive(rs, table.metrics, len(evaluated))
        random_hv.append(_normalised_hv(table, rs.best()))
    assert np.mean(nsga_hv) > np.mean(random_hv)


def test_nsga2_bit_flips_a_binary_genome():
    space = get_space("macro")

    def metrics(arch: str) -> dict[str, float]:
        genes = space.to_vector(arch)
        target = np.arange(genes.size) % 3 == 0
        return {"error": float(np.sum(genes != target)), "cost": float(genes.sum())}

    strategy = create_strategy("nsga2", space, ["error", "cost"], 0, population_size=10, offspring=10,
                               generations=3)
    evaluated = drive(strategy, metrics, 1000)
    assert len(evaluated) == 30 and len({space.key(a) for a in evaluated}) == 30
    first, last = evaluated[:10], evaluated[20:]
    assert min(metrics(a)["error"] for a in last) <= min(metrics(a)["error"] for a in first) + 2


def test_nsga2_needs_two_or_three_objectives_and_valid_settings():
    for objectives, params in ([["error"], {}], [["a", "b", "c", "d"], {}], [["a", "b"], {"generations": 0}],
                               [["a", "b"], {"crossover_prob": 1.5}]):
        with pytest.raises(InvalidValueError):
            create_strategy("nsga2", TinySpace(), objectives, 0, **params)
    with pytest.raises(InvalidValueError, match="sample_size"):
        create_strategy("re", TinySpace(), ["error"], 0, population_size=5, sample_size=6)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1])


def test_bananas_predictor_ranks_unseen_cells_and_is_seeded():
    import random

    import torch

    from robnas.search.discrete.predictor import MLPEnsemble

    table = nb201_table(1)
    rng = random.Random(0)
    archs = [table.space.sample(rng) for _ in range(250)]
    x = np.stack([table.space.encode(a) for a in archs])  # the 155-bit path encoding
    y = np.array([table.metrics(a)["error"] for a in archs])
    ensemble = MLPEnsemble()  # the BANANAS defaults
    ensemble.fit(x[:150], y[:150], torch.Generator().manual_seed(7))
    predictions = ensemble.predict(x[150:])
    assert predictions.shape == (5, 100) and predictions.std(axis=0).mean() > 0  # members disagree
    assert _spearman(predictions.mean(axis=0), y[150:]) > 0.4  # held-out Spearman, measured 0.54-0.59 over seeds; chance is 0
    short = [MLPEnsemble(steps=10) for _ in range(2)]
    for e in short:
        e.fit(x[:150], y[:150], torch.Generator().manual_seed(7))
    assert np.array_equal(short[0].predict(x[150:]), short[1].predict(x[150:]))
