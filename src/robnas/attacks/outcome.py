"""The per-sample best adversarial point found so far, over iterates and restarts.

Attacks *offer* candidate points (with the logits and loss the model gave them); a candidate
replaces the kept point when it fools the model and the kept one does not, or when both agree
on fooling and the candidate's loss is higher. So the first misclassified iterate of a sample is
kept for good (evaluation mode offers it once, the moment the sample breaks), and without early
stopping a sample keeps the strongest of its restarts.
"""

from __future__ import annotations

import torch


class Outcome:
    """Kept adversarial point, its logits and loss, and whether it fools the model, for ``N`` samples."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.y = y
        self.x_adv = x.detach().clone()
        self.logits: torch.Tensor | None = None
        self.loss = torch.full((x.shape[0],), -torch.inf, device=x.device, dtype=x.dtype)
        self.fooled = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)

    def offer(self, idx: torch.Tensor, x_adv: torch.Tensor, logits: torch.Tensor, loss: torch.Tensor) -> None:
        """Keep ``x_adv[j]`` for sample ``idx[j]`` where it beats the point kept so far."""
        if self.logits is None:
            self.logits = torch.zeros(self.x_adv.shape[0], logits.shape[1], device=logits.device, dtype=logits.dtype)
        fooled = logits.argmax(1) != self.y[idx]
        was_fooled = self.fooled[idx]
        better = (fooled & ~was_fooled) | ((fooled == was_fooled) & (loss > self.loss[idx]))
        chosen = idx[better]
        self.x_adv[chosen] = x_adv[better]
        self.logits[chosen] = logits[better]
        self.loss[chosen] = loss[better].to(self.loss.dtype)
        self.fooled[chosen] = fooled[better]

    def place(self, idx: torch.Tensor, x_adv: torch.Tensor) -> None:
        """Store points whose logits were not computed (a caller that wants images only)."""
        self.x_adv[idx] = x_adv

    def robust_indices(self) -> torch.Tensor:
        """Samples no offered point has fooled yet."""
        return (~self.fooled).nonzero().flatten()
