"""NSGA-Net's ``dense`` decoder: the phase its final (post-search) macro networks are built from.

NSGA-Net searches with the residual decoder (:class:`robnas.spaces.macro.network.MacroPhase`) but
trains the chosen genome with this one, at 128 channels in every phase. The decoded graph is the
same (:func:`robnas.spaces.macro.genome.decode_phase`); what changes is the node and how values are
combined, following DenseNet's bottleneck layer with a fixed growth rate:

* every node is BN-ReLU-conv1x1 (to ``4 * GROWTH`` channels)-BN-ReLU-conv3x3 (to ``GROWTH`` = 64
  channels) on the concatenation of its inputs -- no mixing 1x1 convolution, the node's own 1x1
  convolution takes any number of inputs;
* the phase input carries ``C`` channels and every node ``GROWTH``, so a node reading the input and
  two nodes reads ``C + 128`` channels;
* the phase output is conv1x1 (concatenated inputs -> ``C``)-BN-ReLU, even with a single input.

Faithful to the official code where it changes the parameter count: the phase's projection
(conv3x3 without padding in the first phase, conv1x1 later) is created in every phase but applied
only when the widths differ, so with NSGA-Net's channels ``[(3, C), (C, C), (C, C)]`` the second
and third phases each hold ``C * C`` parameters that never touch the output (32,768 at C=128).
They are kept so that the published genome's network has NSGA-Net's published size (3,370,250
parameters at C=128 on CIFAR-10, tested). The output concatenates the nodes before the phase
input, in the official order.

Departure: at ``C == GROWTH`` (64) the official phase concatenates its output's inputs along the
batch dimension (a bug: it skips the ``dim=1``); robnas always concatenates channels.
"""

from __future__ import annotations

import torch
from torch import nn

from robnas.spaces.macro.genome import PhaseGraph

#: DenseNet growth rate of NSGA-Net's dense nodes (fixed in the official code, whatever C is).
GROWTH = 64
#: Bottleneck width of a dense node, in multiples of the growth rate (DenseNet's definition).
BOTTLENECK = 4


def dense_node(in_channels: int) -> nn.Module:
    """DenseNet bottleneck layer: BN-ReLU-conv1x1-BN-ReLU-conv3x3, ``GROWTH`` channels out."""
    mid = BOTTLENECK * GROWTH
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(), nn.Conv2d(in_channels, mid, 1, bias=False),
                         nn.BatchNorm2d(mid), nn.ReLU(), nn.Conv2d(mid, GROWTH, 3, padding=1, bias=False))


class DensePhase(nn.Module):
    """One decoded phase with dense nodes; the output is conv1x1-BN-ReLU back to ``C_out`` channels."""

    def __init__(self, graph: PhaseGraph, C_in: int, C_out: int, first: bool) -> None:
        super().__init__()
        self.apply_project = C_in != C_out
        self.project = nn.Conv2d(C_in, C_out, 3 if first else 1, bias=False)  # kept even when unused, see above

        def width(inputs: list[int]) -> int:
            return sum(C_out if j == 0 else GROWTH for j in inputs)

        self.node_ids = list(graph.nodes)
        self.node_inputs = [list(ins) for ins in graph.inputs]
        self.nodes = nn.ModuleList(dense_node(width(ins)) for ins in self.node_inputs)
        self.output_inputs = sorted(graph.output, key=lambda j: j == 0)  # nodes first, the phase input last
        self.out = nn.Sequential(nn.Conv2d(width(self.output_inputs), C_out, 1, bias=False), nn.BatchNorm2d(C_out),
                                 nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = {0: self.project(x) if self.apply_project else x}
        for node, inputs, unit in zip(self.node_ids, self.node_inputs, self.nodes):
            values[node] = unit(torch.cat([values[j] for j in inputs], dim=1))
        return self.out(torch.cat([values[j] for j in self.output_inputs], dim=1))
