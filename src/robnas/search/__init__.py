"""Architecture search strategies: ``differentiable/`` (one-shot supernets) and ``discrete/`` (black-box).

``robnas.search.run(space, strategy, objectives, evaluator_or_benchmark, budget=...)`` runs a discrete
search in one call (:mod:`robnas.search.one_call`).
"""

from robnas.search.one_call import SearchResult, register_evaluator_adapter, run

__all__ = ["SearchResult", "register_evaluator_adapter", "run"]
