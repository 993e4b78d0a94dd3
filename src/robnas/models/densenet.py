"""CIFAR-style DenseNet-BC (Huang et al., 2017): bottleneck layers, compression 0.5.

Stem is a single 3x3 convolution to 2*growth channels (no 7x7/max pool); dense blocks of
BN-ReLU-conv1x1(4*growth)-BN-ReLU-conv3x3(growth) layers; transitions BN-ReLU-conv1x1-avgpool2.
At growth 32 and 10 classes DenseNet-121 has the 7.0M parameters quoted in the robustness papers.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from robnas.checks import positive_int
from robnas.models.registry import register_model

BOTTLENECK_FACTOR = 4
COMPRESSION = 0.5


class DenseLayer(nn.Module):
    def __init__(self, C_in: int, growth_rate: int) -> None:
        super().__init__()
        hidden = BOTTLENECK_FACTOR * growth_rate
        self.bn1 = nn.BatchNorm2d(C_in)
        self.conv1 = nn.Conv2d(C_in, hidden, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(hidden)
        self.conv2 = nn.Conv2d(hidden, growth_rate, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return torch.cat([out, x], dim=1)


class Transition(nn.Sequential):
    def __init__(self, C_in: int, C_out: int) -> None:
        super().__init__(nn.BatchNorm2d(C_in), nn.ReLU(inplace=True), nn.Conv2d(C_in, C_out, 1, bias=False),
                         nn.AvgPool2d(2))


class DenseNet(nn.Module):
    def __init__(self, block_config: tuple[int, ...], growth_rate: int, num_classes: int, in_channels: int) -> None:
        super().__init__()
        channels = 2 * growth_rate
        self.stem = nn.Conv2d(in_channels, channels, 3, padding=1, bias=False)
        layers: list[nn.Module] = []
        for i, num_layers in enumerate(block_config):
            for _ in range(num_layers):
                layers.append(DenseLayer(channels, growth_rate))
                channels += growth_rate
            if i < len(block_config) - 1:
                compressed = math.floor(channels * COMPRESSION)
                layers.append(Transition(channels, compressed))
                channels = compressed
        self.features = nn.Sequential(*layers)
        self.final = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.final(self.features(self.stem(x)))
        return self.classifier(self.pool(features).flatten(1))


@register_model(tiny=dict(growth_rate=2))
def densenet121(num_classes: int, in_channels: int, growth_rate: int = 32) -> nn.Module:
    growth = positive_int("model 'densenet121'", "growth_rate", growth_rate)
    return DenseNet((6, 12, 24, 16), growth, num_classes, in_channels)


@register_model(tiny=dict(growth_rate=2))
def densenet169(num_classes: int, in_channels: int, growth_rate: int = 32) -> nn.Module:
    growth = positive_int("model 'densenet169'", "growth_rate", growth_rate)
    return DenseNet((6, 12, 32, 32), growth, num_classes, in_channels)
