"""Setting the drop-path (stochastic depth) probability of a model, e.g. per epoch."""

from __future__ import annotations

import math

from torch import nn

from robnas.errors import InvalidValueError


def set_drop_path_prob(model: nn.Module, p: float) -> int:
    """Set ``drop_path_prob`` on every submodule that has one; returns how many were set.

    DARTS raises the probability linearly over training; models without drop path are unaffected.
    """
    if not (isinstance(p, (int, float)) and math.isfinite(p) and 0.0 <= p < 1.0):
        raise InvalidValueError(f"drop-path probability must be in [0, 1), got {p!r}")
    updated = 0
    for module in model.modules():
        if hasattr(module, "drop_path_prob"):
            module.drop_path_prob = float(p)
            updated += 1
    return updated
