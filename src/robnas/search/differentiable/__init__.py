"""Differentiable (one-shot) robust architecture search: one bilevel loop, pluggable terms.

The supernets belong to their spaces: ``robnas.spaces.get_space("darts" | "nb201").supernet(...)``
builds one. :class:`BilevelSearch` runs DARTS' first- or second-order bilevel optimisation over it;
:class:`SearchTerm` subclasses change what the loop does without copying it: :class:`AdvRushTerm`
(input-curvature regulariser) and :class:`RNASTerm` (adversarial bilevel search with the
network-vulnerability constraint). :mod:`~robnas.search.differentiable.resumable` runs a whole search
in a run directory (``search_in_run``), checkpointed every epoch and resumable to the bit.
"""

from robnas.search.differentiable.advrush import AdvRushTerm, input_curvature
from robnas.search.differentiable.loop import BilevelSearch, SearchSettings
from robnas.search.differentiable.rnas import RNASTerm, network_vulnerability, project_onto_bound
from robnas.search.differentiable.methods import METHODS, Method, list_methods, method_terms, register_method
from robnas.search.differentiable.settings import DifferentiableSearchConfig
from robnas.search.differentiable.terms import (TERMS, SearchTerm, StepInfo, StepPlan, create_term, list_terms,
                                               register_term)

__all__ = ["METHODS", "TERMS", "AdvRushTerm", "BilevelSearch", "DifferentiableSearchConfig", "Method", "RNASTerm",
           "SearchSettings", "SearchTerm", "StepInfo", "StepPlan", "create_term", "input_curvature", "list_methods",
           "list_terms", "method_terms", "network_vulnerability", "project_onto_bound", "register_method",
           "register_term"]
