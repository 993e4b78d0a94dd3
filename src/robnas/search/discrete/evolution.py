"""Regularised evolution (Real, Aggarwal, Huang & Le, AAAI 2019), aging evolution.

A population of at most ``population_size`` evaluated architectures; each cycle samples
``sample_size`` members uniformly (with replacement, as in naszilla's ``evolution_search``), mutates
the best of the sample (``space.mutate``: one edit) and adds the child; the *oldest* member dies.

Jung et al. do not state their settings; the four algorithms of their Table 1 (BANANAS, local
search, random search, regularised evolution) are those of White et al.'s naszilla code, whose
defaults we use: ``initial`` = 10 random architectures, ``population_size`` = 30, ``sample_size`` = 10
(Real et al.'s own large-scale runs used larger populations). ``batch_size`` children are proposed per ask (default 1, the sequential
algorithm; larger batches mimic the paper's asynchronous workers, which also breed from a
population that does not yet hold the results in flight).

Departures: children are deduplicated by canonical key. A mutant whose key was already asked is
mutated further (a short random walk, up to ``patience`` edits) and, failing that, replaced by a
random new architecture -- the paper would re-train the duplicate; naszilla re-queries it.
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

from robnas.errors import InvalidValueError
from robnas.search.discrete.strategy import Param, Search, Strategy, Values, count, register_strategy
from robnas.spaces.base import SearchSpace


@register_strategy("re")
class RegularizedEvolution(Strategy):
    params_spec: ClassVar[dict[str, Param]] = {
        "population_size": Param(30, count, "members kept (the oldest dies)"),
        "sample_size": Param(10, count, "tournament size: members sampled to pick a parent"),
        "initial": Param(10, count, "random architectures evaluated first"),
        "batch_size": Param(1, count, "children per ask"),
        "patience": Param(50, count, "further edits tried when a child's key was already asked"),
    }

    def __init__(self, space: SearchSpace, objectives: Any, seed: int, **params: Any) -> None:
        super().__init__(space, objectives, seed, **params)
        if self.params["sample_size"] > self.params["population_size"]:
            raise InvalidValueError(f"strategy re: sample_size ({self.params['sample_size']}) must not exceed "
                                    f"population_size ({self.params['population_size']})")

    def _search(self) -> Search:
        reserved: set[str] = set()
        first = [a for a in (self.sample_new(reserved) for _ in range(self.params["initial"])) if a is not None]
        if not first:
            return
        population: deque[tuple[str, Values]] = deque(maxlen=self.params["population_size"])
        population.extend(zip(first, (yield first)))  # a full deque drops its oldest member
        while True:
            reserved = set()
            children = []
            for _ in range(self.params["batch_size"]):
                child = self._child(population, reserved)
                if child is None:
                    break
                children.append(child)
            if not children:
                return
            population.extend(zip(children, (yield children)))

    def _child(self, population: deque[tuple[str, Values]], reserved: set[str]) -> str | None:
        sample = self.rng.choices(population, k=self.params["sample_size"])
        arch = min(sample, key=lambda member: self.score(member[1]))[0]
        for _ in range(self.params["patience"]):
            arch = self.space.mutate(arch, self.rng)
            if self.take_new(arch, reserved):
                return arch
        return self.sample_new(reserved)
