"""The network a macro genome decodes to (NSGA-Net's residual and dense decoders, re-implemented).

``decoder="residual"`` (the default) is the network NSGA-Net and robnas train *during* a search;
``decoder="dense"`` is NSGA-Net's final network of a chosen genome (its ``validation/train.py``:
``channels=[(3, 128), (128, 128), (128, 128)]``, ``decoder='dense'``), with the phases of
:mod:`robnas.spaces.macro.dense` and every phase ``C`` channels wide (``C=128`` for the published
final networks).

Residual layout: the active phases in order, a 2x2 max pool (stride 2) between consecutive active phases,
global average pooling and a linear classifier. Active phase ``p`` (counting active phases only)
maps ``C_in -> C * 2^p`` channels, with ``C_in`` the image channels for the first one and the
previous phase's width otherwise -- (C_in, C), (C, 2C), (2C, 4C) for three active phases. Inside
a phase, the input is first projected to the phase width (a 3x3 convolution without padding in
the first phase, a 1x1 convolution later; no BN or ReLU), nodes are conv3x3-BN-ReLU, several
inputs are concatenated and mixed by a 1x1 convolution, and the phase output passes BN + ReLU.

Departures from the official code (none changes what a genome means):

* the residual phase's projection exists only when the widths differ (NSGA-Net also creates it,
  unused, when they are equal -- which never happens with the (C_in, C), (C, 2C), (2C, 4C) widths
  unless C_in = C); the dense phase keeps it, for the published parameter count (see ``dense``);
* global average pooling is adaptive (NSGA-Net fixes the pooling window to the map size of the
  input it was built for), so one network accepts any input size;
* the network returns the logits alone (NSGA-Net returns ``(logits, None)``);
* phase repetition (NSGA-Net's optional ``repeats``) is not supported: RoCo-NAS does not use it.
"""

from __future__ import annotations

import torch
from torch import nn

from robnas.errors import InvalidValueError
from robnas.checks import positive_int
from robnas.spaces.macro.dense import DensePhase
from robnas.spaces.macro.genome import PhaseGraph, active_phases, parse_genome

#: Decoders: whether phase widths double (the residual search network) or stay at C (NSGA-Net's final one).
DECODERS = ("residual", "dense")


def phase_widths(num_active: int, in_channels: int, C: int, doubling: bool = True) -> list[tuple[int, int]]:
    """(in, out) channels of each active phase: (C_in, C), (C, 2C), (2C, 4C), ... or (C_in, C), (C, C), ..."""
    outs = [C * 2**p if doubling else C for p in range(num_active)]
    return list(zip([in_channels, *outs[:-1]], outs))


def check_decoder(decoder: object) -> str:
    if decoder not in DECODERS:
        raise InvalidValueError(f"model 'macro': unknown decoder {decoder!r}; use one of {', '.join(DECODERS)} "
                                "(residual: the search network, dense: NSGA-Net's final network)")
    return str(decoder)


def _merge(num_inputs: int, C: int) -> nn.Module:
    """Mixes concatenated inputs back to ``C`` channels; a single input is used as it is."""
    return nn.Conv2d(num_inputs * C, C, 1, bias=False) if num_inputs > 1 else nn.Identity()


class MacroPhase(nn.Module):
    """One decoded phase: a DAG of conv3x3-BN-ReLU nodes between a projection and BN-ReLU."""

    def __init__(self, graph: PhaseGraph, C_in: int, C_out: int, first: bool) -> None:
        super().__init__()
        kernel = 3 if first else 1
        self.project = nn.Conv2d(C_in, C_out, kernel, bias=False) if C_in != C_out else nn.Identity()
        self.node_ids = list(graph.nodes)
        self.node_inputs = [list(ins) for ins in graph.inputs]
        self.output_inputs = list(graph.output)
        self.merges = nn.ModuleList(_merge(len(ins), C_out) for ins in self.node_inputs)
        self.nodes = nn.ModuleList(
            nn.Sequential(nn.Conv2d(C_out, C_out, 3, padding=1, bias=False), nn.BatchNorm2d(C_out),
                          nn.ReLU(inplace=True))
            for _ in self.node_ids)
        self.output_merge = _merge(len(self.output_inputs), C_out)
        self.out = nn.Sequential(nn.BatchNorm2d(C_out), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = {0: self.project(x)}
        for node, inputs, merge, unit in zip(self.node_ids, self.node_inputs, self.merges, self.nodes):
            values[node] = unit(merge(torch.cat([values[j] for j in inputs], dim=1)))
        return self.out(self.output_merge(torch.cat([values[j] for j in self.output_inputs], dim=1)))


class MacroNetwork(nn.Module):
    """The network of a macro genome string; ``C`` is the first phase's width."""

    def __init__(self, genome: str, C: int = 32, num_classes: int = 10, in_channels: int = 3,
                 decoder: str = "residual") -> None:
        super().__init__()
        graphs = active_phases(parse_genome(genome))
        self.genome = genome.strip()
        self.decoder = check_decoder(decoder)
        phase = MacroPhase if decoder == "residual" else DensePhase
        widths = phase_widths(len(graphs), in_channels, C, doubling=decoder == "residual")
        layers: list[nn.Module] = []
        for p, (graph, (c_in, c_out)) in enumerate(zip(graphs, widths)):
            if p > 0:
                layers.append(nn.MaxPool2d(2, stride=2))
            layers.append(phase(graph, c_in, c_out, first=p == 0))
        self.features = nn.Sequential(*layers)  # empty (the identity) when no phase is active
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(widths[-1][1] if widths else in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.global_pooling(self.features(x)).flatten(1))


def macro_network(num_classes: int, in_channels: int, genome: str, C: int = 32, decoder: str = "residual") -> nn.Module:
    """NSGA-Net / RoCo-NAS macro network of a genome string; the factory of the ``macro`` space and model.

    The defaults (residual decoder, C=32) are the search-time network: what robnas trains candidates
    with during a search (NSGA-Net's own search default is 24, its README's search command uses 32;
    RoCo-NAS does not state its search width). NSGA-Net's final network of a chosen genome is
    ``decoder="dense", C=128`` (128 channels in every phase), and so is RoCo-NAS': its
    ``validation/train.py`` (vgeraei/RoCo-NAS, a modified NSGA-Net) builds macro genomes with
    ``[(3, 128), (128, 128), (128, 128)]`` and ``decoder='dense'``; the "initial channels as 32" of
    RoCo-NAS' text matches that script's ``--init_channels`` default, which only its micro branch reads.
    """
    return MacroNetwork(genome, C=positive_int("model 'macro'", "C", C), num_classes=num_classes,
                        in_channels=in_channels, decoder=check_decoder(decoder))
