"""Differentiable search methods: which registered search terms a method adds to the bilevel loop.

A method is data: ``darts`` is the plain loop, ``advrush`` adds the input-curvature term, ``rnas``
the adversarial batches and the vulnerability projection. ``robnas search --method NAME`` accepts
every registered method (a plugin may register its own with :func:`register_method`), and a search
may add further registered terms through ``search.differentiable.terms``.
"""

from __future__ import annotations

from dataclasses import dataclass

from robnas.registry import Registry
from robnas.search.differentiable.settings import DifferentiableSearchConfig
from robnas.search.differentiable.terms import TERMS, SearchTerm, create_term
from robnas.errors import InvalidValueError


@dataclass(frozen=True)
class Method:
    """A one-shot search method: the terms it plugs into DARTS' loop."""

    terms: tuple[str, ...]
    description: str


METHODS: Registry[Method] = Registry("differentiable search method", "methods")


def register_method(name: str, method: Method) -> Method:
    """Make ``method`` available to ``robnas search --method name``."""
    return METHODS.register(name)(method)


register_method("darts", Method((), "DARTS (Liu et al. 2019): first- or second-order bilevel search"))
register_method("advrush", Method(("advrush",), "AdvRush (Mok et al. 2021): DARTS + the input-curvature "
                                                "regulariser of Eq. 10 on the architecture objective"))
register_method("rnas", Method(("rnas",), "RNAS: adversarial bilevel search + the network-vulnerability "
                                          "constraint and its projection (Algorithm 1)"))


def method_terms(method: str, settings: DifferentiableSearchConfig) -> list[SearchTerm]:
    """The terms of ``method`` plus the extra ``settings.terms``, built and checked for ``settings.epochs``."""
    names = METHODS.get(method).terms + tuple(settings.terms)
    if len(set(names)) != len(names):
        raise InvalidValueError(f"search term listed twice: {list(names)}; drop the repeat from "
                                "search.differentiable.terms")
    for name in settings.term_params:
        TERMS.get(name)  # a misspelt term in term_params is an unknown name, not silently ignored
    return [create_term(name, settings.params_of(name), settings.epochs) for name in names]


def list_methods(pattern: str = "*") -> list[str]:
    return METHODS.names(pattern)
