"""NAS-Bench-201 as a discrete search space (``nb201``): 5^6 = 15625 cells, 6466 distinct ones.

An architecture is its arch string. Sampling is uniform over the 15625 cells (each edge's op
uniform and independent); a neighbour changes the op of one edge (6 edges x 4 other ops = 24
neighbours, the local-search neighbourhood of White et al.); ``mutate`` picks one of them that
computes a different function when possible. The key is NAS-Bench-201's canonical string, the
integer genome is the six op indices, and ``encode`` is the BANANAS path encoding (155 bits) or,
with ``encoding="adjacency"``, the one-hot op of each edge (30 values).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robnas.errors import InvalidValueError
from robnas.spaces.base import SearchSpace, register_space
from robnas.spaces.nb201.arch import OPS_NB201, arch_to_str, parse_arch
from robnas.spaces.nb201.drawing import draw_arch
from robnas.spaces.nb201.encoding import adjacency_encoding, edge_ops, path_encoding
from robnas.spaces.nb201.index import NUM_ARCHS, arch_from_ops, canonical_key
from robnas.spaces.nb201.network import nb201_network
from robnas.spaces.nb201.ops import OPS
from robnas.spaces.nb201.supernet import NB201Supernet

NUM_EDGES = 6
_ENCODINGS = {"path": path_encoding, "adjacency": adjacency_encoding}


def _from_ops(ops: Sequence[int]) -> str:
    return _arch_of_ops(tuple(int(o) for o in ops))


@lru_cache(maxsize=NUM_ARCHS)
def _arch_of_ops(ops: tuple[int, ...]) -> str:
    # cached: sampling, mutation and neighbourhoods build the same 15625 strings over and over
    return arch_to_str(arch_from_ops(tuple(OPS_NB201[o] for o in ops)))


@lru_cache(maxsize=NUM_ARCHS)
def _neighbours(arch: str) -> tuple[str, ...]:
    """The 24 one-op changes; cached (the space is finite) because mutation asks for them at every step."""
    ops = edge_ops(parse_arch(arch))
    return tuple(_from_ops([*ops[:edge], op, *ops[edge + 1:]])
                 for edge in range(NUM_EDGES) for op in range(len(OPS_NB201)) if op != ops[edge])


#: The stand-in cell that validates a run's [searched] settings before its search has derived one.
EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"


@lru_cache(maxsize=None)
def _op_params(op: str, width: int) -> int:
    return sum(p.numel() for p in OPS[op](width, width, 1).parameters())


@lru_cache(maxsize=None)
def _skeleton_params(C: int, N: int, num_classes: int, in_channels: int) -> int:
    with torch.random.fork_rng(devices=[]):
        net = nb201_network(num_classes, in_channels, "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", C=C, N=N)
    return sum(p.numel() for p in net.parameters())


@register_space("nb201")
class NB201Space(SearchSpace):
    """The NAS-Bench-201 cell space; ``encoding`` is ``"path"`` (BANANAS) or ``"adjacency"``."""

    arch_kwarg = "arch"
    network = nb201_network
    tiny_size = {"C": 4, "N": 1}
    supernet_class = NB201Supernet

    def __init__(self, encoding: str = "path") -> None:
        if encoding not in _ENCODINGS:
            raise InvalidValueError(f"nb201 encoding must be one of {', '.join(_ENCODINGS)}, got {encoding!r}")
        self.encoding = encoding

    def sample(self, rng: random.Random) -> str:
        return _from_ops([rng.randrange(len(OPS_NB201)) for _ in range(NUM_EDGES)])

    def neighbours(self, arch: str) -> list[str]:
        return list(_neighbours(self.validate(arch)))  # validated first: a list or None is a ParseError, not a TypeError

    def validate(self, arch: str) -> str:
        return arch_to_str(parse_arch(arch))

    def key(self, arch: str) -> str:
        return canonical_key(parse_arch(arch))

    def count_params(self, arch: str, *, num_classes: int, in_channels: int, **size: Any) -> int:
        """Closed form: the macro skeleton (the all-``none`` network) plus each edge op's parameters at its
        stage's width, times N cells per stage -- exact, and 1000x faster than building the network."""
        C, N = size.get("C", 16), size.get("N", 5)
        ops = edge_ops(parse_arch(arch))
        per_stage = sum(_op_params(OPS_NB201[op], C * 2 ** stage) for stage in range(3) for op in ops)
        return _skeleton_params(C, N, num_classes, in_channels) + N * per_stage

    def size(self) -> int:
        return NUM_ARCHS

    def example(self) -> str:
        return EXAMPLE

    def encode(self, arch: str) -> np.ndarray:
        return _ENCODINGS[self.encoding](parse_arch(arch))

    def to_vector(self, arch: str) -> np.ndarray:
        return np.asarray(edge_ops(parse_arch(arch)), dtype=np.int64)

    def from_vector(self, vec: Sequence[int] | np.ndarray) -> str:
        return _from_ops(self.check_vector(vec).tolist())

    def vector_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(NUM_EDGES, dtype=np.int64), np.full(NUM_EDGES, len(OPS_NB201) - 1, dtype=np.int64)

    def draw_cell(self, arch: str, path: str | Path) -> Path:
        return draw_arch(self.validate(arch), path)
