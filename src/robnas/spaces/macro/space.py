"""The NSGA-Net / RoCo-NAS macro space as a discrete search space (``macro``).

An architecture is a genome string (see :mod:`robnas.spaces.macro.genome`): ``n_phases`` bit
strings of ``n_nodes(n_nodes-1)/2 + 1`` bits joined by ``-``. Sampling draws every bit from a fair
coin (uniform over genomes, like NSGA-Net's initial population); a neighbour flips one bit;
``mutate`` flips one bit that changes the decoded network when one exists. The integer genome is
the bits themselves. ``encode`` describes the decoded networks rather than the raw bits: for each
active phase, moved to the front like the decoder does, the repaired adjacency of its nodes and
output (which bits are irrelevant is thereby already resolved), zeros for missing phases.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from robnas.errors import InvalidValueError
from robnas.spaces.base import SearchSpace, register_space
from robnas.spaces.macro.drawing import draw_genome
from robnas.spaces.macro.genome import (DEFAULT_NODES, DEFAULT_PHASES, MIN_NODES, Bits, active_phases,
                                        format_genome, genome_key, parse_genome, phase_length)
from robnas.spaces.macro.network import macro_network


@register_space("macro")
class MacroSpace(SearchSpace):
    """``n_phases`` phases of ``n_nodes`` conv3x3-BN-ReLU nodes (RoCo-NAS: 3 x 6); no supernet."""

    arch_kwarg = "genome"
    network = macro_network
    tiny_size = {"C": 4}

    def __init__(self, n_nodes: int = DEFAULT_NODES, n_phases: int = DEFAULT_PHASES) -> None:
        for what, value, least in (("n_nodes", n_nodes, MIN_NODES), ("n_phases", n_phases, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise InvalidValueError(f"search space 'macro': {what} must be an integer >= {least}, got {value!r}")
        self.n_nodes = n_nodes
        self.n_phases = n_phases
        self.bits_per_phase = phase_length(n_nodes)

    def _phases(self, arch: str) -> tuple[Bits, ...]:
        return parse_genome(arch, self.n_nodes, self.n_phases)

    def _split(self, flat: Sequence[int]) -> list[list[int]]:
        L = self.bits_per_phase
        return [list(flat[p * L:(p + 1) * L]) for p in range(self.n_phases)]

    def sample(self, rng: random.Random) -> str:
        return format_genome(self._split([rng.getrandbits(1) for _ in range(self.n_phases * self.bits_per_phase)]))

    def neighbours(self, arch: str) -> list[str]:
        flat = [b for bits in self._phases(arch) for b in bits]
        out = []
        for i in range(len(flat)):
            flipped = list(flat)
            flipped[i] ^= 1
            out.append(format_genome(self._split(flipped)))
        return out

    def validate(self, arch: str) -> str:
        return format_genome(self._phases(arch))

    def key(self, arch: str) -> str:
        return genome_key(self._phases(arch))

    def size(self) -> int:
        return 2 ** (self.n_phases * self.bits_per_phase)

    def encode(self, arch: str) -> np.ndarray:
        n = self.n_nodes
        # per phase: node i (1..n) reads from 0..i-1, the output from 0..n
        slots = [(i, j) for i in range(1, n + 2) for j in range(i)]
        index = {slot: k for k, slot in enumerate(slots)}
        out = np.zeros((self.n_phases, len(slots)), dtype=np.float32)
        for p, graph in enumerate(active_phases(self._phases(arch))):
            for node, inputs in zip(graph.nodes, graph.inputs):
                out[p, [index[(node, j)] for j in inputs]] = 1.0
            out[p, [index[(n + 1, j)] for j in graph.output]] = 1.0
        return out.reshape(-1)

    def to_vector(self, arch: str) -> np.ndarray:
        return np.asarray([b for bits in self._phases(arch) for b in bits], dtype=np.int64)

    def from_vector(self, vec: Sequence[int] | np.ndarray) -> str:
        return format_genome(self._split(self.check_vector(vec).tolist()))

    def vector_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        length = self.n_phases * self.bits_per_phase
        return np.zeros(length, dtype=np.int64), np.ones(length, dtype=np.int64)

    def draw_cell(self, arch: str, path: str | Path) -> Path:
        return draw_genome(self.validate(arch), path)
