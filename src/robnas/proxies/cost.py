"""``params`` and ``flops``: the cost counters zero-cost proxies are compared against (larger: larger network).

Both reuse :mod:`robnas.metrics`: parameters as papers count them (auxiliary heads excluded) and
the FLOPs of one eval-mode forward on one image shaped like the inputs (a multiply-add is 2 FLOPs).
Neither depends on the points' values, the labels or the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from robnas.metrics import count_flops, count_params
from robnas.proxies.base import Proxy, register_proxy


@register_proxy("params")
@dataclass(frozen=True, kw_only=True)
class Params(Proxy):
    """Number of parameters."""

    higher_is = "larger network"
    needs_labels = False

    def measure(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
        return float(count_params(model))


@register_proxy("flops")
@dataclass(frozen=True, kw_only=True)
class Flops(Proxy):
    """FLOPs of one forward pass on one input."""

    higher_is = "larger network"
    needs_labels = False

    def measure(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
        return float(count_flops(model, tuple(x.shape[1:])))
