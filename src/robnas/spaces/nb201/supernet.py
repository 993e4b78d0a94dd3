"""The NAS-Bench-201 search supernet and its derivation (argmax per edge).

Macro skeleton of NAS-Bench-201's ``TinyNetwork`` (as :class:`robnas.spaces.nb201.NB201Network`):
stem conv3x3 to ``C`` + BN; three stages of ``N`` search cells at widths C, 2C, 4C joined by
stride-2 ResNet basic blocks; BN, ReLU, global average pooling, linear classifier. A search cell
has 4 nodes and 6 edges (every j < i), each a mixed op over the 5 NB201 operations; one alpha
matrix (6 x 5) is shared by every cell. Cell BNs are affine-free, as in NAS-Bench-201's DARTS
search (the ResNet blocks between stages keep theirs).

Derivation (NAS-Bench-201's ``genotype()`` of its DARTS baseline): each edge takes its argmax op,
``none`` included; ties take the earlier op. ``derive_exclude=("none",)`` leaves ``none`` out, as the
DARTS space always does: a search whose objective rewards small features (RNAS's vulnerability
constraint) otherwise derives the empty cell on NAS-Bench-201. With partial channels the edges are not weighted by
PC-DARTS betas: every NB201 edge is kept, so betas could not change the derived cell, and node 1's
single-edge softmax would be a constant.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from robnas.errors import InvalidValueError
from robnas.spaces.mixed import MixedOp, without_bn_affine
from robnas.spaces.nb201.arch import NUM_NODES, OPS_NB201, arch_to_str
from robnas.spaces.nb201.network import stage_layout
from robnas.spaces.nb201.ops import OPS
from robnas.spaces.supernet import Supernet

#: (node, input) of the 6 edges in alpha-row order: 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2.
EDGES = tuple((i, j) for i in range(1, NUM_NODES + 1) for j in range(i))


def _nb201_candidate(name: str, channels: int) -> nn.Module:
    return without_bn_affine(OPS[name](channels, channels, 1))


class NB201SearchCell(nn.Module):
    def __init__(self, C: int, partial_channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(MixedOp(OPS_NB201, _nb201_candidate, C, 1, partial_channels) for _ in EDGES)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for i in range(1, NUM_NODES + 1):
            total = None
            for e, (node, j) in enumerate(EDGES):
                if node == i:
                    h = self.edges[e](nodes[j], weights[e])
                    total = h if total is None else total + h
            nodes.append(total)
        return nodes[-1]


class NB201Supernet(Supernet):
    op_names = OPS_NB201

    def __init__(self, num_classes: int, in_channels: int, mean: Sequence[float] | None,
                 std: Sequence[float] | None, C: int = 16, layers: int = 5, partial_channels: int = 1) -> None:
        super().__init__(mean, std, in_channels)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        blocks, width = stage_layout(C, layers, lambda w: NB201SearchCell(w, partial_channels))
        self.blocks = nn.ModuleList(blocks)
        self.lastact = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(width, num_classes)
        self.alphas = nn.Parameter(1e-3 * torch.randn(len(EDGES), len(OPS_NB201)))

    def named_arch_parameters(self) -> dict[str, nn.Parameter]:
        return {"alphas": self.alphas}

    def forward_with_cells(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        weights = F.softmax(self.alphas, dim=-1)
        h = self.stem(self.normalize(x))
        outputs = []
        for block in self.blocks:
            if isinstance(block, NB201SearchCell):
                h = block(h, weights)
                outputs.append(h)
            else:
                h = block(h)
        logits = self.classifier(self.global_pooling(self.lastact(h)).flatten(1))
        return logits, outputs

    def edge_names(self) -> list[str]:
        return [f"{i}<-{j}" for i, j in EDGES]

    def derive(self, exclude: Collection[str] = ()) -> str:
        return derive_arch(self.alphas.detach().tolist(), self.derivable(exclude))


def derive_arch(alphas: Sequence[Sequence[float]], live: Sequence[int] | None = None) -> str:
    """The NAS-Bench-201 arch string of a 6 x 5 alpha (or weight) matrix: argmax op per edge, among
    the op columns ``live`` (default: all five)."""
    if len(alphas) != len(EDGES) or any(len(row) != len(OPS_NB201) for row in alphas):
        raise InvalidValueError(f"NB201 alphas must be {len(EDGES)} x {len(OPS_NB201)} (edges x ops)")
    columns = range(len(OPS_NB201)) if live is None else live
    ops = [OPS_NB201[max(columns, key=lambda k: (row[k], -k))] for row in alphas]
    nodes = tuple(tuple((ops[e], j) for e, (node, j) in enumerate(EDGES) if node == i)
                  for i in range(1, NUM_NODES + 1))
    return arch_to_str(nodes)
