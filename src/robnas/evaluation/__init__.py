"""Robustness evaluation of a trained model: an attack suite over epsilons -> a results record."""

from robnas.evaluation.suite import ATTACK_TITLES, eps_label, evaluate_model

__all__ = ["evaluate_model", "eps_label", "ATTACK_TITLES"]
