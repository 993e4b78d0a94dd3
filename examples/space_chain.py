"""A new search space in one file: ``chain``, two edges in sequence, each conv, pool or skip.

Registered under ``chain``, it is at once usable by every discrete strategy, the results database,
benchmarks and tabular mode (``robnas search --space chain ...``): the space owns its architecture
strings, key, moves, encodings, network builder and cell drawing. ``skip`` is the identity, so
``conv-skip`` and ``skip-conv`` build the same network and share a key (9 architectures, 7 keys).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from robnas.errors import ParseError
from robnas.spaces import SearchSpace, get_space, register_space
from robnas.spaces.drawing import INPUT_COLOR, NODE_COLOR, OUTPUT_COLOR, draw_edge, draw_node, fit_axes
from robnas.store.figures import pyplot, save_figure

# --- the space: everything below up to the tests is what a new space needs -------------------------

OPS = ("conv", "pool", "skip")


def parse_chain(arch: str) -> tuple[str, ...]:
    """``"conv-pool"`` -> ``("conv", "pool")``; anything else is a one-line ParseError."""
    ops = tuple(arch.strip().split("-")) if isinstance(arch, str) else ()
    if len(ops) != 2 or any(op not in OPS for op in ops):
        raise ParseError(f"malformed chain arch {arch!r}: expected two ops joined by '-', each one of "
                         f"{', '.join(OPS)} (e.g. conv-pool)")
    return ops


def _op(name: str, C: int) -> nn.Module:
    if name == "conv":
        return nn.Sequential(nn.Conv2d(C, C, 3, padding=1, bias=False), nn.BatchNorm2d(C), nn.ReLU())
    return nn.AvgPool2d(3, stride=1, padding=1) if name == "pool" else nn.Identity()


class ChainNetwork(nn.Module):
    """Stem conv3x3 to ``C`` channels, the two edges in sequence, global average pooling, linear."""

    def __init__(self, ops: Sequence[str], C: int, num_classes: int, in_channels: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C), nn.ReLU())
        self.cell = nn.Sequential(*(_op(op, C) for op in ops))
        self.classifier = nn.Linear(C, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.cell(self.stem(x)).mean(dim=(2, 3)))


def chain_network(num_classes: int, in_channels: int, arch: str, C: int = 8) -> nn.Module:
    """The network factory: ``(num_classes, in_channels)``, the architecture kwarg, then size kwargs."""
    return ChainNetwork(parse_chain(arch), C, num_classes, in_channels)


@register_space("chain")
class ChainSpace(SearchSpace):
    """Two edges in sequence, each conv, pool or skip: 9 architectures, 7 distinct networks."""

    arch_kwarg = "arch"        # the factory kwarg that carries the architecture string
    network = chain_network
    tiny_size = {"C": 4}       # kwargs of a very small network, for tests

    def sample(self, rng: random.Random) -> str:
        return "-".join(rng.choice(OPS) for _ in range(2))

    def neighbours(self, arch: str) -> list[str]:
        ops = parse_chain(arch)
        return ["-".join((*ops[:i], op, *ops[i + 1:])) for i in range(2) for op in OPS if op != ops[i]]

    def validate(self, arch: str) -> str:
        return "-".join(parse_chain(arch))

    def key(self, arch: str) -> str:
        # skip is the identity: conv-skip and skip-conv build the same network
        return "-".join(op for op in parse_chain(arch) if op != "skip") or "identity"

    def size(self) -> int:
        return len(OPS) ** 2

    def encode(self, arch: str) -> np.ndarray:
        return np.eye(len(OPS), dtype=np.float32)[self.to_vector(arch)].reshape(-1)

    def to_vector(self, arch: str) -> np.ndarray:
        return np.array([OPS.index(op) for op in parse_chain(arch)], dtype=np.int64)

    def from_vector(self, vec: Sequence[int] | np.ndarray) -> str:
        return "-".join(OPS[g] for g in self.check_vector(vec))

    def vector_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(2, dtype=np.int64), np.full(2, len(OPS) - 1, dtype=np.int64)

    def draw_cell(self, arch: str, path: str | Path) -> Path:
        ops = parse_chain(arch)
        fig, ax = pyplot().subplots(figsize=(5, 1.6))
        points = [(0.0, 0.0), (2.0, 0.0), (4.0, 0.0)]
        for i, op in enumerate(ops):
            draw_edge(ax, points[i], points[i + 1], op, rad=0.0)
        for xy, label, color in zip(points, ("in", "1", "out"), (INPUT_COLOR, NODE_COLOR, OUTPUT_COLOR)):
            draw_node(ax, xy, label, color)
        fit_axes(ax, points)
        return save_figure(fig, path)


# --- the tests ------------------------------------------------------------------------------------
