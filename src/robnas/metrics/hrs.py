"""Harmonic Robustness Score and its per-parameter version (Devaguptapu et al., Eq. 1-3).

Accuracies are percentages, as in the paper's tables. HRS uses PGD accuracy as the adversarial
accuracy in the paper, but any attack's accuracy can be passed.
"""

from __future__ import annotations

import math

from robnas.errors import InvalidValueError


def hrs(clean: float, adv: float, beta: float = 1.0) -> float:
    """HRS_beta = (beta^2 + 1) C A / (beta^2 C + A)  (Eq. 2; beta = 1 gives Eq. 1, the harmonic mean).

    ``beta`` weighs the importance of adversarial accuracy over clean accuracy. Both accuracies
    zero gives 0 (the limit), not a division by zero.
    """
    for label, value in (("clean", clean), ("adv", adv)):
        if not (0.0 <= value <= 100.0) or math.isnan(value):
            raise InvalidValueError(f"{label} accuracy {value} is outside [0, 100]; pass percentages")
    if beta <= 0:
        raise InvalidValueError(f"beta must be positive, got {beta}")
    b2 = beta * beta
    denom = b2 * clean + adv
    return 0.0 if denom == 0 else (b2 + 1.0) * clean * adv / denom


def pp_hrs(hrs_value: float, params: float, baseline_params: float) -> float:
    """PP-HRS = HRS * p_b / f(p_i) with f(p) = p (Eq. 3): HRS scaled by the baseline's size ratio.

    ``params`` and ``baseline_params`` only need the same unit (counts or millions).
    """
    if params <= 0 or baseline_params <= 0:
        raise InvalidValueError("parameter counts for PP-HRS must be positive")
    return hrs_value * baseline_params / params
