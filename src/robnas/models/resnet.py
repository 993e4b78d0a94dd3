"""CIFAR-style ResNets (He et al., 2016): 3x3 stem, no max pool, four stages of width w..8w.

The layout is the one the robustness literature uses for CIFAR (e.g. ResNet-18 with 11.2M
parameters at 10 classes): the ImageNet 7x7 stride-2 stem and max pool are replaced by a single
3x3 convolution, and global pooling is adaptive so 8x8, 28x28 and 32x32 inputs all work.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from robnas.checks import positive_int
from robnas.models.registry import register_model


def conv3x3(C_in: int, C_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(C_in, C_out, 3, stride=stride, padding=1, bias=False)


def projection_shortcut(C_in: int, C_out: int, stride: int) -> nn.Module:
    """1x1 conv + BN when the block changes shape, else the identity."""
    if stride == 1 and C_in == C_out:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(C_in, C_out, 1, stride=stride, bias=False), nn.BatchNorm2d(C_out))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, C_in: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = conv3x3(C_in, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = projection_shortcut(C_in, planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, C_in: int, planes: int, stride: int) -> None:
        super().__init__()
        C_out = planes * self.expansion
        self.conv1 = nn.Conv2d(C_in, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, C_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(C_out)
        self.shortcut = projection_shortcut(C_in, C_out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """Stem, four stages (strides 1, 2, 2, 2; widths w, 2w, 4w, 8w), global pool, linear."""

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], depths: tuple[int, ...],
                 num_classes: int, in_channels: int, width: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv3x3(in_channels, width), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        stages = []
        C_in = width
        for i, depth in enumerate(depths):
            planes = width * 2**i
            blocks = []
            for j in range(depth):
                blocks.append(block(C_in, planes, 2 if (i > 0 and j == 0) else 1))
                C_in = planes * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.stages(self.stem(x))).flatten(1))


@register_model(tiny=dict(width=4))
def resnet18(num_classes: int, in_channels: int, width: int = 64) -> nn.Module:
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, in_channels, positive_int("model 'resnet18'", "width", width))


@register_model(tiny=dict(width=4))
def resnet34(num_classes: int, in_channels: int, width: int = 64) -> nn.Module:
    return ResNet(BasicBlock, (3, 4, 6, 3), num_classes, in_channels, positive_int("model 'resnet34'", "width", width))


@register_model(tiny=dict(width=4))
def resnet50(num_classes: int, in_channels: int, width: int = 64) -> nn.Module:
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, in_channels, positive_int("model 'resnet50'", "width", width))
