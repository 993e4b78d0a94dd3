"""Parameter counts as the papers report them (auxiliary heads excluded)."""

from __future__ import annotations

from torch import nn


def count_parameters(model: nn.Module, exclude_auxiliary: bool = True) -> int:
    """Number of parameters; those of auxiliary heads are left out, as in published counts.

    A module marks itself as an auxiliary head with the class attribute ``is_auxiliary_head``.
    """
    skipped: set[int] = set()
    if exclude_auxiliary:
        for module in model.modules():
            if getattr(module, "is_auxiliary_head", False):
                skipped.update(id(p) for p in module.parameters())
    return sum(p.numel() for p in model.parameters() if id(p) not in skipped)
