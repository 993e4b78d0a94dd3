"""A new discrete search strategy in one file: stochastic hill climbing with random restarts.

Each ask proposes one mutation of the best architecture found so far; after ``patience`` proposals
without improvement it restarts from a random architecture. Registered as ``hc``, it runs wherever a
strategy name is taken: ``robnas search --method hc --space nb201 ...``, benchmark NAS runs, any backend.
"""

from __future__ import annotations

from typing import ClassVar

from robnas.search.discrete import Strategy, register_strategy
from robnas.search.discrete.strategy import Param, Search, positive_int


@register_strategy("hc")
class HillClimbing(Strategy):
    params_spec: ClassVar[dict[str, Param]] = {
        "patience": Param(20, positive_int, "proposals without improvement before a restart"),
    }

    def _search(self) -> Search:
        while True:
            start = self.sample_new(set())
            if start is None:
                return
            values = yield [start]
            best, best_value, stale = start, values[0][0], 0
            while stale < self.params["patience"]:
                child = self.space.mutate(best, self.rng)
                if self.space.key(child) in self._asked:  # equivalent to one already evaluated
                    stale += 1
                    continue
                values = yield [child]
                if values[0][0] < best_value:
                    best, best_value, stale = child, values[0][0], 0
                else:
                    stale += 1
