"""Parameters and FLOPs of a macro genome's search network in closed form (no network is built).

This is the residual decoder's network (what a search trains); the ``dense`` final network is
counted by building it.

They equal :func:`robnas.metrics.count_params` and :func:`robnas.metrics.count_flops` on the built
network (tested), so a search can rank thousands of genomes by cost instantly. FLOPs count, like
PyTorch's flop counter, 2 per multiply-add of the convolutions and the classifier (BN, ReLU and
pooling are not counted).
"""

from __future__ import annotations

from dataclasses import dataclass

from robnas.spaces.macro.genome import active_phases, parse_genome
from robnas.spaces.macro.network import phase_widths


@dataclass(frozen=True)
class MacroCost:
    params: int
    flops: int


def macro_cost(genome: str, input_shape: tuple[int, int, int], C: int = 32, num_classes: int = 10) -> MacroCost:
    """Cost of the network of ``genome`` on inputs of shape ``(C_in, H, W)``."""
    in_channels, height, width = input_shape
    graphs = active_phases(parse_genome(genome))
    params = flops = 0

    def conv(c_in: int, c_out: int, kernel: int) -> None:
        nonlocal params, flops
        params += c_in * c_out * kernel * kernel
        flops += 2 * c_in * c_out * kernel * kernel * height * width

    for p, (graph, (c_in, c_out)) in enumerate(zip(graphs, phase_widths(len(graphs), in_channels, C))):
        if p > 0:
            height, width = height // 2, width // 2
        if c_in != c_out:
            kernel = 3 if p == 0 else 1
            height, width = height - kernel + 1, width - kernel + 1  # the projection has no padding
            conv(c_in, c_out, kernel)
        for inputs in [*graph.inputs, graph.output]:
            if len(inputs) > 1:
                conv(len(inputs) * c_out, c_out, 1)
        for _ in graph.nodes:
            conv(c_out, c_out, 3)
        params += 2 * c_out * (len(graph.nodes) + 1)  # BN weight and bias of each node and the output
    features = C * 2 ** (len(graphs) - 1) if graphs else in_channels
    params += features * num_classes + num_classes
    flops += 2 * features * num_classes
    return MacroCost(params, flops)
