"""A third-party robnas plugin, as a user would write one: models, an attack, a strategy and a search term.

It is never imported by robnas' own tests directly: the plugin test installs it (a distribution with
an entry point in the group ``robnas.plugins``) and drives it through the ``robnas`` command line.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from robnas.attacks import Attack, register_attack
from robnas.attacks.gradient import QueryCounter, forward
from robnas.attacks.outcome import Outcome
from robnas.models import register_model
from robnas.rng import uniform
from robnas.search.differentiable import SearchTerm, register_term
from robnas.search.discrete import Strategy, register_strategy


@register_model("toy_mlp", tiny={"hidden": 4})
def toy_mlp(num_classes: int, in_channels: int, hidden: int = 16) -> nn.Module:
    """A two-layer perceptron on whatever image size it is given."""
    return nn.Sequential(nn.Flatten(), nn.LazyLinear(hidden), nn.ReLU(), nn.Linear(hidden, num_classes))


class ToyConvNet(nn.Module):
    """A convolution, a ReLU and a linear head: the network behind the timm-style factory below."""

    def __init__(self, num_classes: int, in_channels: int, width: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@register_model("toy_timm", tiny={"width": 2})
def toy_timm(num_classes=10, in_channels=3, *args, **kwargs):
    """A factory as timm writes them: defaults on the common arguments, everything else through ``**kwargs``."""
    return ToyConvNet(num_classes, in_channels, *args, **kwargs)


@register_attack("toy-noise")
class ToyNoise(Attack):
    """One uniformly random point of the Linf ball (a weak black-box baseline)."""

    title: ClassVar[str] = "Toy noise"
    kind: ClassVar[str] = "black-box"
    norms: ClassVar[tuple[str, ...]] = ("Linf",)

    @property
    def is_random(self) -> bool:
        return True

    def _attack(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_init: torch.Tensor | None,
                gen: torch.Generator, outcome: Outcome, counter: QueryCounter, need_logits: bool) -> None:
        x_adv = (x + uniform(x.shape, gen, x, -self.eps, self.eps)).clamp(0.0, 1.0)
        logits = forward(model, x_adv, counter)
        outcome.offer(torch.arange(x.shape[0], device=x.device), x_adv, logits,
                      F.cross_entropy(logits, y, reduction="none"))


@register_strategy("toy-first")
class FirstFew(Strategy):
    """Asks random architectures one at a time (the smallest useful strategy)."""

    def _search(self):
        while True:
            arch = self.sample_new(set())
            if arch is None:
                return
            yield [arch]


@register_term("toy-alpha-l2")
class AlphaL2(SearchTerm):
    """A small L2 penalty on the architecture parameters."""

    def arch_loss(self, model, x, y, info):
        return 1e-3 * sum((a * a).sum() for a in model.arch_parameters())
