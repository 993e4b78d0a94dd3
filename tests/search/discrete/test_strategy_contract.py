"""The ask/tell contract, checked for every registered strategy (new ones are covered automatically)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from robnas.errors import InvalidValueError, UnknownNameError
from robnas.search.discrete import create_strategy, list_strategies
from tests.search.discrete.tables import TINY_KEYS, TinySpace, drive, nb201_table, tiny_metrics

# Small settings so every strategy proposes something within a few dozen evaluations.
FAST = {
    "rs": {},
    "ls": {},
    "re": {"population_size": 10, "sample_size": 3},
    "bananas": {"initial": 6, "batch_size": 5, "candidates": 30, "steps": 20},
    "nsga2": {"population_size": 8, "offspring": 8, "generations": 4},
}


def _objectives(name: str) -> list[str]:
    return ["error", "cost"] if name == "nsga2" else ["error"]


def _asks(name: str, seed: int, budget: int = 30) -> list[str]:
    table = nb201_table(2)
    strategy = create_strategy(name, table.space, _objectives(name), seed, **FAST.get(name, {}))
    return drive(strategy, table.metrics, budget)


def test_every_strategy_is_registered():
    assert set(list_strategies()) == {"rs", "ls", "re", "bananas", "nsga2"}
    assert set(FAST) >= set(list_strategies())


@pytest.mark.parametrize("name", list_strategies())
def test_same_seed_same_asks_and_no_global_rng(name):
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    states = random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    first = _asks(name, seed=3)
    assert random.getstate() == states[0], "the strategy used Python's global RNG"
    assert np.array_equal(np.random.get_state()[1], states[1]), "the strategy used numpy's global RNG"
    assert torch.equal(torch.get_rng_state(), states[2]), "the strategy used torch's global RNG"
    random.seed(2), np.random.seed(2), torch.manual_seed(2)  # other global state, same asks
    assert _asks(name, seed=3) == first
    assert _asks(name, seed=4) != first


@pytest.mark.parametrize("name", list_strategies())
def test_never_asks_a_key_twice_and_finishes_on_an_exhausted_space(name):
    space = TinySpace()
    strategy = create_strategy(name, space, _objectives(name), 0, **FAST.get(name, {}))
    asked = drive(strategy, tiny_metrics, 1000)
    keys = [space.key(a) for a in asked]
    assert len(keys) == len(set(keys))
    assert strategy.finished and strategy.ask() == []
    if name != "nsga2":  # NSGA-II may stop when its generations (or unique offspring) run out
        assert len(keys) == TINY_KEYS


@pytest.mark.parametrize("name", list_strategies())
def test_best_is_sorted_or_pareto(name):
    table = nb201_table(2)
    strategy = create_strategy(name, table.space, _objectives(name), 0, **FAST.get(name, {}))
    drive(strategy, table.metrics, 30)
    best = strategy.best()
    if len(strategy.objectives) == 1:
        errors = [m["error"] for _, m in best]
        assert errors == sorted(errors) and len(best) == len(strategy.history)


def test_unknown_names_and_bad_params_are_one_line_errors():
    space = TinySpace()
    cases = [
        (UnknownNameError, lambda: create_strategy("simulated-annealing", space, ["error"], 0)),
        (InvalidValueError, lambda: create_strategy("rs", space, ["error"], 0, batch_size=0)),
        (InvalidValueError, lambda: create_strategy("rs", space, ["error"], 0, batch_size="many")),
        (InvalidValueError, lambda: create_strategy("rs", space, ["error"], 0, population=3)),
        (InvalidValueError, lambda: create_strategy("rs", space, [], 0)),
        (InvalidValueError, lambda: create_strategy("rs", space, ["error", "error"], 0)),
        (InvalidValueError, lambda: create_strategy("rs", space, ["error"], -1)),
        (InvalidValueError, lambda: create_strategy("rs", "nb201", ["error"], 0)),
    ]
    for error, make in cases:
        with pytest.raises(error) as info:
            make()
        assert "\n" not in str(info.value)


def test_tell_checks_what_it_is_told():
    strategy = create_strategy("rs", TinySpace(), ["error"], 0, batch_size=2)
    first, second = strategy.ask()
    with pytest.raises(RuntimeError):
        strategy.ask()  # the batch is still being evaluated
    with pytest.raises(InvalidValueError, match="lack objective"):
        strategy.tell(first, {"cost": 1.0})
    with pytest.raises(InvalidValueError, match="must be a number"):
        strategy.tell(first, {"error": "low"})
    strategy.tell(second, {"error": float("nan")})  # a failed evaluation: told, ranks last
    strategy.tell(first, {"error": 3.0})
    with pytest.raises(InvalidValueError, match="already told"):
        strategy.tell(first, {"error": 3.0})
    unasked = next(a for a in ("0-0-0", "1-1-1", "2-2-2") if TinySpace().key(a) not in
                   {TinySpace().key(first), TinySpace().key(second)})
    with pytest.raises(InvalidValueError, match="never asked"):
        strategy.tell(unasked, {"error": 1.0})
    assert [a for a, _ in strategy.best()] == [first, second]


class _Killed(Exception):
    pass


@pytest.mark.parametrize("name", list_strategies())
def test_resume_by_replay_reasks_the_same_archs_and_redoes_nothing(name):
    """kill -9 mid-batch, then re-create the strategy and replay it against the cache of results."""
    table = nb201_table(2)
    cache: dict[str, dict[str, float]] = {}
    computed: list[str] = []

    def run(kill_after: int | None) -> list[str]:
        strategy = create_strategy(name, table.space, _objectives(name), 5, **FAST.get(name, {}))
        asked: list[str] = []
        while len(asked) < 24 and not strategy.finished:
            batch = strategy.ask()
            for arch in batch:
                key = table.space.key(arch)
                if key not in cache:
                    if kill_after is not None and len(computed) == kill_after:
                        raise _Killed
                    cache[key] = table.metrics(arch)
                    computed.append(key)
                strategy.tell(arch, cache[key])
            asked.extend(batch)
        return asked

    with pytest.raises(_Killed):
        run(kill_after=13)
    resumed = run(kill_after=None)
    assert len(computed) == len(set(computed)) == len(resumed)  # every evaluation done exactly once
    cache.clear()
    assert run(kill_after=None) == resumed  # the same search as one without the interruption
