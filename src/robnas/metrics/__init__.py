"""Metrics: accuracy and confidence, HRS / PP-HRS (Devaguptapu et al.), parameter and FLOP counts."""

from robnas.metrics.classification import accuracy, confusion_matrix, mean_confidence
from robnas.metrics.cost import count_flops, count_params, nb201_cost
from robnas.metrics.hrs import hrs, pp_hrs

__all__ = ["accuracy", "confusion_matrix", "mean_confidence", "hrs", "pp_hrs", "count_params", "count_flops", "nb201_cost"]
