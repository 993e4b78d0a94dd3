"""Per-sample attack losses on logits, all to be maximised: cross-entropy and the DLR losses of Croce & Hein.

DLR (difference of logits ratio) is invariant to shifting and rescaling the logits, so a model
cannot hide behind saturated softmax outputs: ``-(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3 + 1e-12)``
with ``z_pi`` the logits sorted in decreasing order. Targeted DLR replaces the best other class by
a target ``t`` and the denominator by ``z_pi1 - (z_pi3 + z_pi4) / 2 + 1e-12``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from robnas.errors import InvalidValueError


def need_classes(logits: torch.Tensor, n: int, loss: str) -> None:
    """DLR divides by a gap between sorted logits that only exists with ``n`` classes or more."""
    if logits.shape[1] < n:
        raise InvalidValueError(f"the {loss} loss needs a model with at least {n} classes, this one has "
                                f"{logits.shape[1]}; use a cross-entropy attack (apgd-ce, pgd)")


def cross_entropy(logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
    return F.cross_entropy(logits, y, reduction="none")


def dlr(logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
    need_classes(logits, 3, "DLR")
    ordered = logits.sort(dim=1, descending=True).values
    true = logits.gather(1, y[:, None]).squeeze(1)
    best_other = logits.scatter(1, y[:, None], float("-inf")).amax(1)
    return -(true - best_other) / (ordered[:, 0] - ordered[:, 2] + 1e-12)


def targeted_dlr(logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
    assert target is not None, "targeted DLR needs a target class per sample"
    need_classes(logits, 4, "targeted DLR")
    ordered = logits.sort(dim=1, descending=True).values
    true = logits.gather(1, y[:, None]).squeeze(1)
    aimed = logits.gather(1, target[:, None]).squeeze(1)
    return -(true - aimed) / (ordered[:, 0] - 0.5 * (ordered[:, 2] + ordered[:, 3]) + 1e-12)
