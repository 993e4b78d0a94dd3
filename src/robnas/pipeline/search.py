"""``robnas search``: dispatch on the method to a one-shot supernet search or a black-box discrete search.

Every registered differentiable method (``robnas list methods``) and every registered strategy
(``robnas list strategies``) is accepted, plugins' included.
"""

from __future__ import annotations

from pathlib import Path

from robnas.pipeline.config import RunConfig
from robnas.errors import UnknownNameError
from robnas.search.differentiable.methods import METHODS
from robnas.search.discrete.strategy import STRATEGIES


def method_kind(method: str) -> str:
    """``differentiable`` (a one-shot method) or ``discrete`` (a black-box strategy); unknown: one error line."""
    if method in METHODS:
        return "differentiable"
    if method in STRATEGIES:
        return "discrete"
    raise UnknownNameError(f"unknown search method {method!r}; choose a differentiable method "
                           f"({', '.join(METHODS.names())}) or a discrete strategy ({', '.join(STRATEGIES.names())}) "
                           "(`robnas list methods`, `robnas list strategies`)")


def run(cfg: RunConfig) -> Path:
    if method_kind(cfg.search.method) == "differentiable":
        from robnas.pipeline.differentiable_search import run_differentiable_search

        return run_differentiable_search(cfg)
    from robnas.pipeline.discrete_search import run_discrete_search

    return run_discrete_search(cfg)
