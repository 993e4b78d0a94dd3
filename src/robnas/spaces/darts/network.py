"""The DARTS evaluation network ("NetworkCIFAR"): a stack of cells built from a genotype.

Layout (Liu et al., 2019): stem conv3x3 to ``3*C`` channels + BN; ``layers`` cells, the ones at
``layers//3`` and ``2*layers//3`` are reduction cells that halve the resolution and double the
channels; global average pooling and a linear classifier. An optional auxiliary head after cell
``2*layers//3`` adds a second loss during training.

Departures from the official code, neither of which changes the parameter count:

* the auxiliary head pools with DARTS' 5x5/stride-3 window when that yields its 2x2 map (the
  8x8 map of a 32x32 input) and adaptively to 2x2 otherwise, so 28x28 and tiny inputs work;
* FactorizedReduce pads before its offset path (see :mod:`robnas.spaces.darts.ops`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from robnas.errors import InvalidValueError
from robnas.checks import flag, positive_int, probability
from robnas.spaces.darts.genotype import NUM_CELL_INPUTS, Edge, Genotype, edges_by_node, genotype_from
from robnas.spaces.darts.ops import OPS, FactorizedReduce, ReLUConvBN

STEM_MULTIPLIER = 3
AUX_HIDDEN = 128
AUX_FEATURES = 768
# Two reduction cells at layers//3 and 2*layers//3 must be distinct cells.
MIN_LAYERS = 3


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero whole samples with probability ``drop_prob`` and rescale the rest (stochastic depth).

    Uses torch's default RNG: it only runs in training mode, never inside an attack (attacks put
    the model in eval mode), so it does not disturb the reproducibility of evaluations.
    """
    keep_prob = 1.0 - drop_prob
    mask = torch.empty(x.size(0), 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep_prob)
    return x / keep_prob * mask


class Cell(nn.Module):
    """One normal or reduction cell: 2 preprocessed inputs, 4 nodes of 2 edges, concat output."""

    def __init__(self, edges: tuple[Edge, ...], concat: tuple[int, ...], C_prev_prev: int, C_prev: int,
                 C: int, reduction: bool, reduction_prev: bool) -> None:
        super().__init__()
        self.reduction = reduction
        # The input from two cells back is at twice the resolution if the previous cell reduced.
        self.preprocess0 = (FactorizedReduce(C_prev_prev, C) if reduction_prev
                            else ReLUConvBN(C_prev_prev, C, 1, 1, 0))
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0)
        self.node_inputs = [[idx for _, idx in node] for node in edges_by_node(edges)]
        ops = []
        for op_name, idx in edges:
            stride = 2 if reduction and idx < NUM_CELL_INPUTS else 1
            ops.append(OPS[op_name](C, stride, True))
        self.ops = nn.ModuleList(ops)
        self.concat = tuple(concat)
        self.multiplier = len(self.concat)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        op_iter = iter(self.ops)
        for inputs in self.node_inputs:
            total = None
            for idx in inputs:
                op = next(op_iter)
                h = op(states[idx])
                # DARTS drops every path except plain identities (which carry no parameters).
                if self.training and drop_prob > 0.0 and not isinstance(op, nn.Identity):
                    h = drop_path(h, drop_prob)
                total = h if total is None else total + h
            states.append(total)
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuxiliaryHead(nn.Module):
    """Auxiliary classifier on the 8x8 map after the second reduction (training aid only)."""

    is_auxiliary_head = True  # count_parameters() skips modules with this marker

    def __init__(self, C: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(C, AUX_HIDDEN, 1, bias=False),
            nn.BatchNorm2d(AUX_HIDDEN),
            nn.ReLU(inplace=True),
            nn.Conv2d(AUX_HIDDEN, AUX_FEATURES, 2, bias=False),
            nn.BatchNorm2d(AUX_FEATURES),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(AUX_FEATURES, num_classes)

    @staticmethod
    def _pool_to_2x2(x: torch.Tensor) -> torch.Tensor:
        # A 5x5 window with stride 3 gives 2x2 exactly for sizes 8..10 (DARTS' 8x8 case).
        if all(8 <= size <= 10 for size in x.shape[-2:]):
            return F.avg_pool2d(x, 5, stride=3, padding=0, count_include_pad=False)
        return F.adaptive_avg_pool2d(x, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._pool_to_2x2(F.relu(x))
        return self.classifier(self.features(x).flatten(1))


class DartsNetwork(nn.Module):
    """DARTS evaluation network for CIFAR-sized inputs; ``drop_path_prob`` is set by the trainer."""

    def __init__(self, genotype: Genotype, C: int = 36, layers: int = 20, num_classes: int = 10,
                 in_channels: int = 3, auxiliary: bool = False, drop_path_prob: float = 0.0) -> None:
        super().__init__()
        self.genotype = genotype
        self.drop_path_prob = drop_path_prob
        C_curr = STEM_MULTIPLIER * C
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, C_curr, 3, padding=1, bias=False),
            nn.BatchNorm2d(C_curr),
        )
        reduction_layers = (layers // 3, 2 * layers // 3)
        self.auxiliary_index = 2 * layers // 3 if auxiliary else None
        C_prev_prev, C_prev, C_curr = C_curr, C_curr, C
        cells = []
        reduction_prev = False
        C_aux = C_prev
        for i in range(layers):
            reduction = i in reduction_layers
            if reduction:
                C_curr *= 2
            edges, concat = ((genotype.reduce, genotype.reduce_concat) if reduction
                             else (genotype.normal, genotype.normal_concat))
            cell = Cell(edges, concat, C_prev_prev, C_prev, C_curr, reduction, reduction_prev)
            cells.append(cell)
            reduction_prev = reduction
            C_prev_prev, C_prev = C_prev, cell.multiplier * C_curr
            if i == self.auxiliary_index:
                C_aux = C_prev
        self.cells = nn.ModuleList(cells)
        self.auxiliary_head = AuxiliaryHead(C_aux, num_classes) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        aux_logits = None
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self.auxiliary_index and self.training and self.auxiliary_head is not None:
                aux_logits = self.auxiliary_head(s1)
        logits = self.classifier(self.global_pooling(s1).flatten(1))
        return (logits, aux_logits) if aux_logits is not None else logits


def checked_darts_network(name: str, genotype: Genotype | str, num_classes: int, in_channels: int, C: int,
                          layers: int, auxiliary: bool, drop_path_prob: float) -> DartsNetwork:
    """The network of ``genotype`` after checking the sizes; errors name the model ``name``."""
    if positive_int(f"model {name!r}", "layers", layers) < MIN_LAYERS:
        raise InvalidValueError(f"model {name!r}: layers must be >= {MIN_LAYERS} (it has two reduction "
                                f"cells at layers//3 and 2*layers//3), got {layers}")
    return DartsNetwork(genotype_from(genotype), C=positive_int(f"model {name!r}", "C", C), layers=layers,
                        num_classes=num_classes, in_channels=in_channels,
                        auxiliary=flag(f"model {name!r}", "auxiliary", auxiliary),
                        drop_path_prob=probability(f"model {name!r}", "drop_path_prob", drop_path_prob))


def darts_network(num_classes: int, in_channels: int, genotype: Genotype | str, C: int = 36, layers: int = 20,
                  auxiliary: bool = False, drop_path_prob: float = 0.0) -> nn.Module:
    """DARTS evaluation network of any genotype, given as its published text (or a Genotype).

    The factory of the ``darts`` space and model (defaults: the published CIFAR setting, C=36, 20 cells).
    """
    return checked_darts_network("darts", genotype, num_classes, in_channels, C, layers, auxiliary, drop_path_prob)
