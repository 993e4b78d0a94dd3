"""Pre-activation residual networks: PreAct ResNet-18 and Wide ResNets share one implementation.

A pre-activation block is BN-ReLU-conv3x3-BN-ReLU-(dropout)-conv3x3 plus a shortcut (a 1x1
convolution of the pre-activated input when the shape changes). PreAct ResNet-18 (He et al.,
2016b) and WRN-d-k (Zagoruyko & Komodakis, 2016) differ only in stem width, stage widths and
depths, and dropout. Both end with BN-ReLU before pooling, as in the original papers and in the
PreAct ResNet-18 of the adversarial-training literature (the popular kuangliu/pytorch-cifar copy
omits that final BN-ReLU, which would be 1,024 parameters fewer).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from robnas.errors import InvalidValueError
from robnas.checks import positive_int, probability
from robnas.models.registry import register_model
from robnas.models.resnet import conv3x3


class PreActBlock(nn.Module):
    def __init__(self, C_in: int, C_out: int, stride: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(C_in)
        self.conv1 = conv3x3(C_in, C_out, stride)
        self.bn2 = nn.BatchNorm2d(C_out)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = conv3x3(C_out, C_out)
        self.shortcut = (nn.Conv2d(C_in, C_out, 1, stride=stride, bias=False)
                         if stride != 1 or C_in != C_out else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(x))
        # A projecting shortcut sees the pre-activated input; an identity one the raw input.
        residual = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(self.dropout(F.relu(self.bn2(out))))
        return out + residual


class PreActResNet(nn.Module):
    """Stem conv3x3, stages of pre-activation blocks, BN-ReLU, global pool, linear."""

    def __init__(self, stem_width: int, widths: tuple[int, ...], depths: tuple[int, ...],
                 strides: tuple[int, ...], num_classes: int, in_channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.stem = conv3x3(in_channels, stem_width)
        blocks = []
        C_in = stem_width
        for width, depth, stride in zip(widths, depths, strides, strict=True):
            for j in range(depth):
                blocks.append(PreActBlock(C_in, width, stride if j == 0 else 1, dropout))
                C_in = width
        self.blocks = nn.Sequential(*blocks)
        self.final = nn.Sequential(nn.BatchNorm2d(C_in), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.final(self.blocks(self.stem(x)))
        return self.classifier(self.pool(features).flatten(1))


@register_model(tiny=dict(width=4))
def preact_resnet18(num_classes: int, in_channels: int, width: int = 64) -> nn.Module:
    w = positive_int("model 'preact_resnet18'", "width", width)
    return PreActResNet(w, (w, 2 * w, 4 * w, 8 * w), (2, 2, 2, 2), (1, 2, 2, 2), num_classes, in_channels)


def _wide_resnet(name: str, num_classes: int, in_channels: int, depth: int, widen_factor: int,
                 dropout: float) -> nn.Module:
    depth = positive_int(f"model {name!r}", "depth", depth)
    if (depth - 4) % 6 or depth < 10:
        raise InvalidValueError(f"model {name!r}: depth must be 6n+4 with n >= 1 (10, 16, 22, 28, 34, ...), "
                                f"got {depth}")
    k = positive_int(f"model {name!r}", "widen_factor", widen_factor)
    n = (depth - 4) // 6
    return PreActResNet(16, (16 * k, 32 * k, 64 * k), (n, n, n), (1, 2, 2), num_classes, in_channels,
                        probability(f"model {name!r}", "dropout", dropout))


@register_model(tiny=dict(depth=10, widen_factor=1))
def wide_resnet(num_classes: int, in_channels: int, depth: int = 28, widen_factor: int = 10,
                dropout: float = 0.0) -> nn.Module:
    """WRN-depth-widen_factor; depth 6n+4 gives n blocks per stage."""
    return _wide_resnet("wide_resnet", num_classes, in_channels, depth, widen_factor, dropout)


@register_model(tiny=dict(widen_factor=1))
def wrn_28_10(num_classes: int, in_channels: int, widen_factor: int = 10, dropout: float = 0.0) -> nn.Module:
    """WRN-28-10 (36.5M parameters); ``widen_factor`` is exposed only for small test variants."""
    return _wide_resnet("wrn_28_10", num_classes, in_channels, 28, widen_factor, dropout)


@register_model(tiny=dict(widen_factor=1))
def wrn_34_10(num_classes: int, in_channels: int, widen_factor: int = 10, dropout: float = 0.0) -> nn.Module:
    """WRN-34-10 (46.2M parameters); ``widen_factor`` is exposed only for small test variants."""
    return _wide_resnet("wrn_34_10", num_classes, in_channels, 34, widen_factor, dropout)
