"""Discrete (black-box) search strategies behind one ask/tell contract.

``create_strategy(name, space, objectives, seed, **params)`` makes one of: ``rs`` (random search),
``ls`` (local search), ``re`` (regularised evolution), ``bananas`` (BANANAS) and ``nsga2``
(NSGA-II via pymoo). See :mod:`robnas.search.discrete.strategy` for the contract.
"""

# Importing a strategy module registers it.
from robnas.search.discrete import bananas as _bananas  # noqa: F401  ("bananas")
from robnas.search.discrete import evolution as _evolution  # noqa: F401  ("re")
from robnas.search.discrete import local_search as _local_search  # noqa: F401  ("ls")
from robnas.search.discrete import nsga2 as _nsga2  # noqa: F401  ("nsga2")
from robnas.search.discrete import random_search as _random_search  # noqa: F401  ("rs")
from robnas.search.discrete.strategy import STRATEGIES, Strategy, create_strategy, list_strategies, register_strategy

__all__ = ["STRATEGIES", "Strategy", "create_strategy", "list_strategies", "register_strategy"]
