"""The DARTS search supernet (Liu et al., 2019, ``model_search.py``) and the DARTS derivation rule.

Layout: stem conv3x3 to ``3*C`` + BN; ``layers`` cells, reduction cells at ``layers//3`` and
``2*layers//3`` (width doubled); each cell has 2 preprocessed inputs, 4 intermediate nodes fed by
every earlier node through a mixed op (14 edges), and outputs the concatenation of the 4 nodes;
global average pooling and a linear classifier. Batch norm inside cells has no affine parameters,
and pooling candidates are followed by an affine-free BN, as in DARTS. All normal cells share
``alphas_normal`` (14 x 8), all reduction cells ``alphas_reduce``.

With partial channels (PC-DARTS) every node also weighs its incoming edges by
``softmax(betas)`` over those edges (edge normalisation), and the derivation ranks edges by
``softmax(alpha) * softmax(beta)`` as PC-DARTS does.

Derivation (DARTS ``genotype()``): for each intermediate node keep the two inputs whose strongest
non-``none`` op weight is largest, each with its argmax non-``none`` op; edges are listed
strongest first. Ties keep the lower input index / the earlier op (stable sort, first maximum).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from robnas.errors import InvalidValueError
from robnas.spaces.darts.genotype import (EDGES_PER_NODE, NUM_CELL_INPUTS, NUM_INTERMEDIATE_NODES, OPS_DARTS,
                                          Genotype)
from robnas.spaces.darts.network import STEM_MULTIPLIER
from robnas.spaces.darts.ops import OPS, FactorizedReduce, ReLUConvBN
from robnas.spaces.mixed import MixedOp
from robnas.spaces.supernet import Supernet

NUM_EDGES = sum(NUM_CELL_INPUTS + i for i in range(NUM_INTERMEDIATE_NODES))  # 14
NONE_INDEX = OPS_DARTS.index("none")
#: A DARTS supernet needs a normal cell besides the two reduction cells, or alphas_normal gets no signal.
MIN_LAYERS = 3


def _darts_candidate(stride: int):
    def build(name: str, channels: int) -> nn.Module:
        op = OPS[name](channels, stride, False)
        if "pool" in name:  # DARTS: an affine-free BN after pooling, so its scale matches the convs'
            op = nn.Sequential(op, nn.BatchNorm2d(channels, affine=False))
        return op

    return build


def node_edge_slices() -> list[slice]:
    """Rows of the 14-edge alpha matrix that feed each intermediate node (2, 3, 4, 5 edges)."""
    slices, start = [], 0
    for i in range(NUM_INTERMEDIATE_NODES):
        slices.append(slice(start, start + NUM_CELL_INPUTS + i))
        start += NUM_CELL_INPUTS + i
    return slices


class SearchCell(nn.Module):
    def __init__(self, C_prev_prev: int, C_prev: int, C: int, reduction: bool, reduction_prev: bool,
                 partial_channels: int) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = (FactorizedReduce(C_prev_prev, C, affine=False) if reduction_prev
                            else ReLUConvBN(C_prev_prev, C, 1, 1, 0, affine=False))
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0, affine=False)
        edges = []
        for i in range(NUM_INTERMEDIATE_NODES):
            for j in range(NUM_CELL_INPUTS + i):
                stride = 2 if reduction and j < NUM_CELL_INPUTS else 1
                edges.append(MixedOp(OPS_DARTS, _darts_candidate(stride), C, stride, partial_channels))
        self.edges = nn.ModuleList(edges)
        self.slices = node_edge_slices()

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor,
                edge_weights: torch.Tensor | None) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for rows in self.slices:
            total = None
            for offset, edge in enumerate(range(rows.start, rows.stop)):
                h = self.edges[edge](states[offset], weights[edge])
                if edge_weights is not None:
                    h = edge_weights[edge] * h
                total = h if total is None else total + h
            states.append(total)
        return torch.cat(states[NUM_CELL_INPUTS:], dim=1)


class DartsSupernet(Supernet):
    op_names = OPS_DARTS
    never_derived = (OPS_DARTS[NONE_INDEX],)  # DARTS' genotype(): 'none' only competes inside the softmax

    def __init__(self, num_classes: int, in_channels: int, mean: Sequence[float] | None,
                 std: Sequence[float] | None, C: int = 16, layers: int = 8, partial_channels: int = 1) -> None:
        super().__init__(mean, std, in_channels)
        if layers < MIN_LAYERS:
            raise InvalidValueError(f"the DARTS supernet needs layers >= {MIN_LAYERS} (reduction cells sit at "
                                    f"layers//3 and 2*layers//3; fewer layers leave no normal cell), got {layers}")
        self.partial_channels = partial_channels
        C_curr = STEM_MULTIPLIER * C
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C_curr, 3, padding=1, bias=False), nn.BatchNorm2d(C_curr))
        reductions = (layers // 3, 2 * layers // 3)
        C_prev_prev, C_prev, C_curr = C_curr, C_curr, C
        cells, reduction_prev = [], False
        for i in range(layers):
            reduction = i in reductions
            if reduction:
                C_curr *= 2
            cells.append(SearchCell(C_prev_prev, C_prev, C_curr, reduction, reduction_prev, partial_channels))
            reduction_prev = reduction
            C_prev_prev, C_prev = C_prev, NUM_INTERMEDIATE_NODES * C_curr
        self.cells = nn.ModuleList(cells)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)
        # DARTS initialises the alphas at 1e-3 * N(0, 1): near-uniform op weights.
        self.alphas_normal = nn.Parameter(1e-3 * torch.randn(NUM_EDGES, len(OPS_DARTS)))
        self.alphas_reduce = nn.Parameter(1e-3 * torch.randn(NUM_EDGES, len(OPS_DARTS)))
        if partial_channels > 1:
            self.betas_normal = nn.Parameter(1e-3 * torch.randn(NUM_EDGES))
            self.betas_reduce = nn.Parameter(1e-3 * torch.randn(NUM_EDGES))

    def named_arch_parameters(self) -> dict[str, nn.Parameter]:
        names = ["alphas_normal", "alphas_reduce"]
        if self.partial_channels > 1:
            names += ["betas_normal", "betas_reduce"]
        return {name: getattr(self, name) for name in names}

    def _edge_weights(self, betas: torch.Tensor | None) -> torch.Tensor | None:
        """PC-DARTS edge normalisation: softmax of the betas over each node's incoming edges."""
        if betas is None:
            return None
        return torch.cat([F.softmax(betas[rows], dim=-1) for rows in node_edge_slices()])

    def forward_with_cells(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        normal = F.softmax(self.alphas_normal, dim=-1)
        reduce = F.softmax(self.alphas_reduce, dim=-1)
        betas_normal = self._edge_weights(getattr(self, "betas_normal", None))
        betas_reduce = self._edge_weights(getattr(self, "betas_reduce", None))
        s0 = s1 = self.stem(self.normalize(x))
        outputs = []
        for cell in self.cells:
            if cell.reduction:
                s0, s1 = s1, cell(s0, s1, reduce, betas_reduce)
            else:
                s0, s1 = s1, cell(s0, s1, normal, betas_normal)
            outputs.append(s1)
        logits = self.classifier(self.global_pooling(s1).flatten(1))
        return logits, outputs

    def edge_names(self) -> list[str]:
        return [f"{NUM_CELL_INPUTS + i}<-{j}" for i in range(NUM_INTERMEDIATE_NODES)
                for j in range(NUM_CELL_INPUTS + i)]

    def derive(self, exclude: Collection[str] = ()) -> str:
        live = self.derivable(exclude)
        with torch.no_grad():
            normal = F.softmax(self.alphas_normal.double(), dim=-1)
            reduce = F.softmax(self.alphas_reduce.double(), dim=-1)
            if self.partial_channels > 1:
                normal = normal * self._edge_weights(self.betas_normal.double()).unsqueeze(1)
                reduce = reduce * self._edge_weights(self.betas_reduce.double()).unsqueeze(1)
        return derive_genotype(normal.tolist(), reduce.tolist(), live).to_str()


def _derive_cell(weights: list[list[float]], live: Sequence[int]) -> list[tuple[str, int]]:
    gene = []
    for rows in node_edge_slices():
        node = weights[rows]

        def strength(j: int) -> float:
            return max(node[j][k] for k in live)

        # sorted() is stable: equal strengths keep the lower input index first.
        for j in sorted(range(len(node)), key=lambda j: -strength(j))[:EDGES_PER_NODE]:
            best = max(live, key=lambda k: (node[j][k], -k))  # first maximum on ties
            gene.append((OPS_DARTS[best], j))
    return gene


def derive_genotype(normal: Sequence[Sequence[float]], reduce: Sequence[Sequence[float]],
                    live: Sequence[int] | None = None) -> Genotype:
    """The DARTS genotype of (softmaxed) 14 x 8 edge weight matrices for the normal and reduction cell,
    choosing among the op columns ``live`` (default: every op but ``none``, as DARTS does)."""
    if live is None:
        live = [k for k in range(len(OPS_DARTS)) if k != NONE_INDEX]
    for name, weights in (("normal", normal), ("reduce", reduce)):
        if len(weights) != NUM_EDGES or any(len(row) != len(OPS_DARTS) for row in weights):
            raise InvalidValueError(f"{name} weights must be {NUM_EDGES} x {len(OPS_DARTS)} (edges x ops)")
    concat = list(range(NUM_CELL_INPUTS, NUM_CELL_INPUTS + NUM_INTERMEDIATE_NODES))
    return Genotype(normal=_derive_cell([list(r) for r in normal], live), normal_concat=concat,
                    reduce=_derive_cell([list(r) for r in reduce], live), reduce_concat=concat)
