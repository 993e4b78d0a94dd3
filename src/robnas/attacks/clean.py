"""The ``clean`` pseudo-attack: the identity, so that the clean row of a table goes through the same code."""

from __future__ import annotations

import torch
from torch import nn

from robnas.attacks.base import Attack, keep_clean
from robnas.attacks.gradient import QueryCounter
from robnas.attacks.outcome import Outcome
from robnas.attacks.registry import register_attack


@register_attack("clean")
class Clean(Attack):
    """Returns the inputs unchanged (one forward pass for the logits). ``eps`` is accepted so that a
    suite can pass the same parameters to every attack, but nothing is perturbed; ``x_init`` is ignored.
    Its kind is black-box: it only queries the model's outputs (once)."""
    title = "Clean"
    kind = "black-box"

    def _attack(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_init: torch.Tensor | None,
                gen: torch.Generator, outcome: Outcome, counter: QueryCounter, need_logits: bool) -> None:
        keep_clean(model, x, y, outcome, counter, need_logits)
