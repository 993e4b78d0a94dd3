"""The NAS-Bench-201 macro network ("TinyNetwork") built from an arch string.

Stem conv3x3 (``in_channels -> C``) + BN; three stages of ``N`` cells at widths C, 2C, 4C joined
by stride-2 ResNet basic blocks; BN, ReLU, global average pooling and a linear classifier.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from robnas.checks import positive_int
from robnas.spaces.nb201.arch import Arch, arch_to_str, parse_arch
from robnas.spaces.nb201.ops import OPS, ResNetBasicBlock


class NB201Cell(nn.Module):
    """A 4-node cell: node i is the sum of one op applied to each earlier node; node 3 is the output."""

    certify_affine_combination = True  # robnas.certify: forward combines its children affinely

    def __init__(self, arch: Arch, C: int) -> None:
        super().__init__()
        self.node_inputs = [[j for _, j in node] for node in arch]
        self.ops = nn.ModuleList(OPS[op](C, C, 1) for node in arch for op, _ in node)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        op_iter = iter(self.ops)
        for inputs in self.node_inputs:
            total = None
            for j in inputs:
                h = next(op_iter)(nodes[j])
                total = h if total is None else total + h
            nodes.append(total)
        return nodes[-1]


def stage_layout(C: int, N: int, make_cell: Callable[[int], nn.Module]) -> tuple[list[nn.Module], int]:
    """The NAS-Bench-201 macro skeleton after the stem: 3 stages of ``N`` cells (widths C, 2C, 4C),
    a stride-2 ResNet basic block between stages; returns the modules and the final width.
    Shared by the fixed network and the supernet, whose cells differ but whose skeleton must not."""
    layers: list[nn.Module] = []
    width = C
    for stage in range(3):
        if stage > 0:
            layers.append(ResNetBasicBlock(width, 2 * width, stride=2))
            width *= 2
        layers.extend(make_cell(width) for _ in range(N))
    return layers, width


class NB201Network(nn.Module):
    """NAS-Bench-201's CIFAR network: ``N`` cells per stage, widths ``C``, ``2C``, ``4C``."""

    certify_affine_combination = True  # robnas.certify: forward combines its children affinely

    def __init__(self, arch: str | Arch, C: int = 16, N: int = 5, num_classes: int = 10,
                 in_channels: int = 3) -> None:
        super().__init__()
        nodes = parse_arch(arch) if isinstance(arch, str) else parse_arch(arch_to_str(arch))
        self.arch = arch_to_str(nodes)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers, width = stage_layout(C, N, lambda w: NB201Cell(nodes, w))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.lastact(self.cells(self.stem(x)))
        return self.classifier(self.global_pooling(features).flatten(1))


def nb201_network(num_classes: int, in_channels: int, arch: str, C: int = 16, N: int = 5) -> nn.Module:
    """NAS-Bench-201 macro network of an arch string (defaults: the benchmark's C=16, N=5).

    The factory of the ``nb201`` space and model.
    """
    # Only the string form is accepted here: it is what the model spec stores and reloads.
    return NB201Network(parse_arch(arch), C=positive_int("model 'nb201'", "C", C),
                        N=positive_int("model 'nb201'", "N", N), num_classes=num_classes, in_channels=in_channels)
