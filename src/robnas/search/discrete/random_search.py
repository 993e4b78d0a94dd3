"""Random search (Li & Talwalkar): uniform samples of the space, deduplicated by canonical key.

Each ask proposes ``batch_size`` architectures drawn uniformly over the space's string forms
(``space.sample``), skipping any whose key was already asked. On a finite space the strategy
finishes when every key has been asked. Multi-objective use (``best()`` gives the Pareto set of
everything evaluated) makes it the baseline NSGA-II is compared with.
"""

from __future__ import annotations

from typing import ClassVar

from robnas.search.discrete.strategy import Param, Search, Strategy, count, register_strategy


@register_strategy("rs")
class RandomSearch(Strategy):
    multi_objective: ClassVar[bool] = True
    params_spec: ClassVar[dict[str, Param]] = {
        "batch_size": Param(1, count, "architectures per ask"),
    }

    def _search(self) -> Search:
        while True:
            reserved: set[str] = set()
            batch = []
            for _ in range(self.params["batch_size"]):
                arch = self.sample_new(reserved)
                if arch is None:
                    break
                batch.append(arch)
            if not batch:
                return
            yield batch
