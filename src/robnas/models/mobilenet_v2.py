"""MobileNetV2 for CIFAR, in the variant the robust-NAS papers compare against (2.3M parameters).

Inverted residual blocks (1x1 expand, 3x3 depthwise, 1x1 project) with the CIFAR strides: stride 1
in the stem and in the first two stages, so a 32x32 input reaches the classifier at 4x4.

Departures from Sandler et al. (2018), kept because the published CIFAR figures (e.g. RNAS,
Table 1: 2.3M) were obtained with this widely used CIFAR variant: ReLU instead of ReLU6; the
expansion convolution is present even at expansion 1; stride-1 blocks that change width add a
1x1 conv-BN projection shortcut (the paper has no shortcut there); no dropout before the classifier.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from robnas.checks import positive_float
from robnas.models.registry import register_model

#: (expansion, output width, blocks, stride of the first block) per stage, CIFAR strides.
STAGES: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)
STEM_WIDTH = 32
HEAD_WIDTH = 1280


def _conv_bn(C_in: int, C_out: int, kernel_size: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(C_in, C_out, kernel_size, stride=stride, padding=kernel_size // 2, groups=groups, bias=False),
        nn.BatchNorm2d(C_out),
    )


class InvertedResidual(nn.Module):
    def __init__(self, C_in: int, C_out: int, expansion: int, stride: int) -> None:
        super().__init__()
        hidden = expansion * C_in
        self.expand = _conv_bn(C_in, hidden, 1)
        self.depthwise = _conv_bn(hidden, hidden, 3, stride=stride, groups=hidden)
        self.project = _conv_bn(hidden, C_out, 1)
        self.shortcut: nn.Module | None = None
        if stride == 1:
            self.shortcut = nn.Identity() if C_in == C_out else _conv_bn(C_in, C_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.expand(x))
        out = F.relu(self.depthwise(out))
        out = self.project(out)
        return out + self.shortcut(x) if self.shortcut is not None else out


class MobileNetV2(nn.Module):
    def __init__(self, width_mult: float, num_classes: int, in_channels: int) -> None:
        super().__init__()

        def scaled(channels: int) -> int:
            return max(4, int(round(channels * width_mult)))

        C_in = scaled(STEM_WIDTH)
        self.stem = nn.Sequential(_conv_bn(in_channels, C_in, 3), nn.ReLU(inplace=True))
        blocks = []
        for expansion, width, count, stride in STAGES:
            for j in range(count):
                blocks.append(InvertedResidual(C_in, scaled(width), expansion, stride if j == 0 else 1))
                C_in = scaled(width)
        self.blocks = nn.Sequential(*blocks)
        head = scaled(HEAD_WIDTH)
        self.head = nn.Sequential(_conv_bn(C_in, head, 1), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(head, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.head(self.blocks(self.stem(x)))).flatten(1))


@register_model(tiny=dict(width_mult=0.125))
def mobilenet_v2(num_classes: int, in_channels: int, width_mult: float = 1.0) -> nn.Module:
    return MobileNetV2(positive_float("model 'mobilenet_v2'", "width_mult", width_mult), num_classes, in_channels)
