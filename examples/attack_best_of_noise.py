"""A new attack in one file: the best of k random points of the Linf ball (a black-box baseline).

Registered under ``noise-k``, it is at once usable everywhere an attack name is: ``robnas eval
--attacks noise-k``, protocols, the reliability flags (its ``kind`` makes it count as black-box), the
reports (its ``title``) and the property tests that run over every registered attack.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from robnas.attacks import Attack, register_attack
from robnas.attacks.gradient import QueryCounter, forward
from robnas.attacks.outcome import Outcome
from robnas.attacks.threat import project
from robnas.rng import uniform


@register_attack("noise-k")
class BestOfNoise(Attack):
    """``k`` uniform draws in the eps-ball; each sample keeps its most damaging one."""

    title: ClassVar[str] = "Noise-k"
    kind: ClassVar[str] = "black-box"
    norms: ClassVar[tuple[str, ...]] = ("Linf",)

    def __init__(self, *, eps: float = 8 / 255, k: int = 10, seed: int = 0, early_stop: bool = True,
                 batch_size: int | None = None) -> None:
        super().__init__(eps=eps, norm="Linf", seed=seed, early_stop=early_stop, batch_size=batch_size)
        self.k = k

    @property
    def is_random(self) -> bool:
        return True

    def _attack(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_init: torch.Tensor | None,
                gen: torch.Generator, outcome: Outcome, counter: QueryCounter, need_logits: bool) -> None:
        everyone = torch.arange(x.shape[0], device=x.device)
        for _ in range(self.k):
            candidate = project(x + uniform(x.shape, gen, x, -self.eps, self.eps), x, self.eps, "Linf")
            logits = forward(model, candidate, counter)
            outcome.offer(everyone, candidate, logits, F.cross_entropy(logits, y, reduction="none"))
