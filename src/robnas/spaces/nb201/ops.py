"""The NAS-Bench-201 cell operations and the ResNet block between stages.

These follow NAS-Bench-201 (Dong & Yang, 2020): ``nor_conv`` is ReLU, convolution, BN; the 3x3
average pool is preceded by a 1x1 ReLU-conv-BN only when the channel count changes (never inside
the cells of the standard macro network); ``none`` outputs zeros that stay attached to the graph.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import torch
from torch import nn

from robnas.spaces.darts.ops import ReLUConvBN, Zero
from robnas.spaces.nb201.arch import OPS_NB201

OpFactory = Callable[[int, int, int], nn.Module]


class AvgPool3x3(nn.Module):
    """3x3 average pool (padding excluded from the mean), with a 1x1 projection if widths differ."""

    certify_affine_combination = True  # robnas.certify: forward combines its children affinely

    def __init__(self, C_in: int, C_out: int, stride: int) -> None:
        super().__init__()
        self.preprocess = ReLUConvBN(C_in, C_out, 1, 1, 0) if C_in != C_out else nn.Identity()
        self.pool = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.preprocess(x))


class ResNetBasicBlock(nn.Module):
    """Two 3x3 ReLU-conv-BN units plus a shortcut; joins the stages of the NB201 macro network.

    At stride 2 the shortcut is a 2x2 average pool followed by a 1x1 convolution (no BN), as in
    NAS-Bench-201's ``ResNetBasicblock``.
    """

    certify_affine_combination = True  # robnas.certify: forward combines its children affinely

    def __init__(self, C_in: int, C_out: int, stride: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(C_in, C_out, 3, stride, 1)
        self.conv_b = ReLUConvBN(C_out, C_out, 3, 1, 1)
        self.shortcut: nn.Module
        if stride == 2:
            self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(C_in, C_out, 1, bias=False))
        elif C_in != C_out:
            self.shortcut = ReLUConvBN(C_in, C_out, 1, 1, 0)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


def _skip(C_in: int, C_out: int, stride: int) -> nn.Module:
    if stride != 1 or C_in != C_out:
        raise ValueError("skip_connect in a NAS-Bench-201 cell needs stride 1 and equal widths")
    return nn.Identity()


#: Name -> factory ``(C_in, C_out, stride)``; only stride 1 occurs inside NB201 cells.
OPS: Mapping[str, OpFactory] = MappingProxyType({
    "none": lambda C_in, C_out, stride: Zero(stride),
    "skip_connect": _skip,
    "nor_conv_1x1": lambda C_in, C_out, stride: ReLUConvBN(C_in, C_out, 1, stride, 0),
    "nor_conv_3x3": lambda C_in, C_out, stride: ReLUConvBN(C_in, C_out, 3, stride, 1),
    "avg_pool_3x3": AvgPool3x3,
})

assert tuple(OPS) == OPS_NB201, "OPS must list the NAS-Bench-201 operations in the benchmark's order"
