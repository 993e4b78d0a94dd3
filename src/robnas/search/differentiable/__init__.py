"""Differentiable (one-shot) robust architecture search: supernets, one bilevel loop, pluggable terms.

``create_supernet("darts" | "nb201", ...)`` builds a supernet; :class:`BilevelSearch` runs DARTS'
first- or second-order bilevel optimisation over it; :class:`SearchTerm` subclasses change what the
loop does without copying it: :class:`AdvRushTerm` (input-curvature regulariser) and
:class:`RNASTerm` (adversarial bilevel search with the network-vulnerability constraint).
"""

from robnas.search.differentiable.advrush import AdvRushTerm, input_curvature
from robnas.search.differentiable.darts_supernet import DartsSupernet, derive_genotype
from robnas.search.differentiable.loop import BilevelSearch, SearchSettings
from robnas.search.differentiable.nb201_supernet import NB201Supernet, derive_arch
from robnas.search.differentiable.rnas import RNASTerm, network_vulnerability, project_onto_bound
from robnas.search.differentiable.supernet import SPACES, Supernet, create_supernet
from robnas.search.differentiable.methods import METHODS, Method, list_methods, method_terms, register_method
from robnas.search.differentiable.settings import DifferentiableSearchConfig
from robnas.search.differentiable.terms import (TERMS, SearchTerm, StepInfo, StepPlan, create_term, list_terms,
                                               register_term)

__all__ = ["METHODS", "TERMS", "DifferentiableSearchConfig", "Method", "create_term", "list_methods", "list_terms",
           "method_terms", "register_method", "register_term", "SPACES", "AdvRushTerm", "BilevelSearch", "DartsSupernet", "NB201Supernet", "RNASTerm",
           "SearchSettings", "SearchTerm", "StepInfo", "StepPlan", "Supernet", "create_supernet",
           "derive_arch", "derive_genotype", "input_curvature", "network_vulnerability", "project_onto_bound"]
