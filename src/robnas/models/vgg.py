"""VGG-16 with batch norm for CIFAR: thirteen 3x3 conv-BN-ReLU layers, five 2x2 max pools, one linear.

This is the CIFAR variant the robustness papers quote at 14.7M parameters (a single linear
classifier instead of VGG's three 4096-wide layers). The max pools use ``ceil_mode`` so that
inputs smaller than 32x32 (e.g. 8x8) still work; on 32x32 inputs this changes nothing.
"""

from __future__ import annotations

import torch
from torch import nn

from robnas.checks import positive_int
from robnas.models.registry import register_model

#: Output widths (as multiples of the base width 64) of the VGG-16 convolutions; "M" = max pool.
VGG16_LAYOUT: tuple[int | str, ...] = (1, 1, "M", 2, 2, "M", 4, 4, 4, "M", 8, 8, 8, "M", 8, 8, 8, "M")


class VGG(nn.Module):
    def __init__(self, layout: tuple[int | str, ...], width: int, num_classes: int, in_channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        C_in = in_channels
        for item in layout:
            if item == "M":
                layers.append(nn.MaxPool2d(2, stride=2, ceil_mode=True))
            else:
                C_out = int(item) * width
                layers += [nn.Conv2d(C_in, C_out, 3, padding=1), nn.BatchNorm2d(C_out), nn.ReLU(inplace=True)]
                C_in = C_out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))


@register_model(tiny=dict(width=4))
def vgg16_bn(num_classes: int, in_channels: int, width: int = 64) -> nn.Module:
    return VGG(VGG16_LAYOUT, positive_int("model 'vgg16_bn'", "width", width), num_classes, in_channels)
