"""The mixed operation of a supernet edge: a softmax(alpha)-weighted sum of candidate operations.

With ``partial_channels = K > 1`` the edge is a PC-DARTS partial-channel connection (Xu et al.,
2020): only the first ``C/K`` channels go through the candidate operations, the other channels
bypass them (max-pooled on reduction edges), and a channel shuffle with ``K`` groups mixes the two
so that the next edge sees a different subset. The edge-normalisation weights (betas) that
PC-DARTS pairs with this live in the supernet, because they weigh a node's incoming edges.

The candidate named ``none`` (the zero operation in DARTS and NAS-Bench-201) contributes
``w_none * 0``; it is skipped in the sum (exactly the same value and the same gradients:
``alpha_none`` still acts through the softmax normalisation). It is still built, so the module list
and its parameter names follow the alpha columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from robnas.checks import positive_int
from robnas.errors import InvalidValueError

#: The candidate that outputs zeros, skipped in the weighted sum.
ZERO_OP = "none"


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave ``groups`` equal channel groups (ShuffleNet), as PC-DARTS does after each edge."""
    batch, channels, height, width = x.shape
    return (x.view(batch, groups, channels // groups, height, width)
            .transpose(1, 2).reshape(batch, channels, height, width))


def without_bn_affine(module: nn.Module) -> nn.Module:
    """Drop the learnable scale/shift of every batch norm in ``module`` (in place).

    DARTS searches with ``affine=False`` batch norm so that per-op scales cannot compete with the
    alphas; the NAS-Bench-201 op factories always build affine BN, so the supernet strips it.
    """
    for bn in module.modules():
        if isinstance(bn, nn.modules.batchnorm._BatchNorm) and bn.affine:
            bn.affine = False
            bn.register_parameter("weight", None)
            bn.register_parameter("bias", None)
    return module


def check_partial_channels(C: int, partial_channels: int) -> int:
    positive_int("supernet", "partial_channels (1 = off)", partial_channels)
    if C % partial_channels:
        raise InvalidValueError(
            f"partial_channels={partial_channels} must divide the cell width C={C} (PC-DARTS sends C/K channels "
            "through the operations); choose e.g. partial_channels=1, 2 or 4"
        )
    return partial_channels


class MixedOp(nn.Module):
    """One supernet edge: ``sum_o softmax(alpha)_o * o(x)`` over the candidate operations.

    ``build(op_name, channels)`` makes one candidate for ``channels`` channels (the edge's stride is
    baked into it by the caller).
    """

    def __init__(self, op_names: Sequence[str], build: Callable[[str, int], nn.Module], C: int, stride: int,
                 partial_channels: int = 1) -> None:
        super().__init__()
        self.partial_channels = check_partial_channels(C, partial_channels)
        self.channels = C // self.partial_channels
        self.ops = nn.ModuleList(build(name, self.channels) for name in op_names)
        # Only the non-zero candidates are evaluated (see the module docstring).
        self._live = [i for i, name in enumerate(op_names) if name != ZERO_OP]
        self.bypass = nn.MaxPool2d(2, 2, ceil_mode=True) if stride == 2 else nn.Identity()

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        if self.partial_channels == 1:
            return self._mix(x, weights)
        active, rest = x[:, : self.channels], x[:, self.channels:]
        out = torch.cat([self._mix(active, weights), self.bypass(rest)], dim=1)
        return channel_shuffle(out, self.partial_channels)

    def _mix(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        total = None
        for i in self._live:
            h = weights[i] * self.ops[i](x)
            total = h if total is None else total + h
        assert total is not None, "a mixed op needs at least one candidate other than none"
        return total
