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
from typing import ClassVar

import numpy as np

from robnas.errors import InvalidValueError
from robnas.spaces.base import SPACES, DiscreteSpace
from robnas.spaces.nb201.arch import OPS_NB201, arch_to_str, parse_arch
from robnas.spaces.nb201.encoding import adjacency_encoding, edge_ops, path_encoding
from robnas.spaces.nb201.index import NUM_ARCHS, arch_from_ops, canonical_key

NUM_EDGES = 6
_ENCODINGS = {"path": path_encoding, "adjacency": adjacency_encoding}


def _from_ops(ops: Sequence[int]) -> str:
    return arch_to_str(arch_from_ops(tuple(OPS_NB201[o] for o in ops)))


@lru_cache(maxsize=NUM_ARCHS)
def _neighbours(arch: str) -> tuple[str, ...]:
    """The 24 one-op changes; cached (the space is finite) because mutation asks for them at every step."""
    ops = edge_ops(parse_arch(arch))
    return tuple(_from_ops([*ops[:edge], op, *ops[edge + 1:]])
                 for edge in range(NUM_EDGES) for op in range(len(OPS_NB201)) if op != ops[edge])


@SPACES.register("nb201")
class NB201Space(DiscreteSpace):
    """The NAS-Bench-201 cell space; ``encoding`` is ``"path"`` (BANANAS) or ``"adjacency"``."""

    model_name: ClassVar[str] = "nb201"
    arch_kwarg: ClassVar[str] = "arch"

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

    def size(self) -> int:
        return NUM_ARCHS

    def encode(self, arch: str) -> np.ndarray:
        return _ENCODINGS[self.encoding](parse_arch(arch))

    def to_vector(self, arch: str) -> np.ndarray:
        return np.asarray(edge_ops(parse_arch(arch)), dtype=np.int64)

    def from_vector(self, vec: Sequence[int] | np.ndarray) -> str:
        return _from_ops(self.check_vector(vec).tolist())

    def vector_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(NUM_EDGES, dtype=np.int64), np.full(NUM_EDGES, len(OPS_NB201) - 1, dtype=np.int64)
