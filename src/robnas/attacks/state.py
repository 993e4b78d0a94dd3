"""Per-sample attack state that shrinks as samples break and leave the batch."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from robnas.attacks.gradient import LossGradient
from robnas.attacks.outcome import Outcome


@dataclass
class SampleState:
    """Tensors whose first dimension runs over the samples still under attack.

    ``idx`` maps each row back to its position in the chunk. Subclasses add their own per-sample
    tensors; :meth:`keep` filters all of them at once, so no field can be forgotten.
    """

    idx: torch.Tensor

    def keep(self, mask: torch.Tensor) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                setattr(self, f.name, value[mask])

    def __len__(self) -> int:
        return int(self.idx.shape[0])


@dataclass
class Iterates(SampleState):
    """The clean points, their labels and the current adversarial iterates of a gradient-ascent attack."""

    x: torch.Tensor
    y: torch.Tensor
    x_adv: torch.Tensor


def retire_broken(g: LossGradient, s: Iterates, outcome: Outcome) -> torch.Tensor | None:
    """Evaluation mode: offer the samples ``g`` found misclassified (at ``s.x_adv``) and drop them from ``s``.

    Returns the gradient rows of the samples still under attack, or None when every one broke.
    """
    broken = g.logits.argmax(1) != s.y
    if not broken.any():
        return g.grad
    outcome.offer(s.idx[broken], s.x_adv[broken], g.logits[broken], g.loss[broken])
    s.keep(~broken)
    return g.grad[~broken] if len(s) else None
