"""The DARTS cell space as a discrete search space (``darts``), for random cells and their ensembles.

An architecture is the published genotype text (``Genotype.to_str()``). The space holds the cells
DARTS can derive: every intermediate node (2..5) reads two *distinct* earlier states, each through
a non-``none`` operation, and the cell output concatenates all four intermediate nodes.

* ``sample``: for each node a uniformly random pair of distinct inputs and a uniformly random op
  for each of its two edges, independently for the normal and the reduction cell (edges listed in
  increasing input order).
* neighbours: change the op of one edge (6 other ops) or move one edge to an input the node does
  not read yet (the op is kept); 120 neighbours per genotype.
* ``key``: the cell's graph up to relabelling. Edges of a node are a set (their outputs are summed)
  and intermediate nodes may be renumbered in any order that keeps inputs before the nodes reading
  them (the output concatenation only permutes channels, which the next 1x1 convolutions and the
  classifier absorb). The key is the smallest such renumbering, written as genotype text, so it
  is itself a valid architecture of the space (concat normalised to ``[2, 3, 4, 5]``).
* integer genome, per cell and node: the index of its input pair among the pairs of earlier states
  (in ``itertools.combinations`` order), then the ops (index among the 7 non-``none`` ops) of the
  edges from the lower and the higher input -- 12 genes per cell, every vector valid.
* ``encode``: per cell, for every (node, possible input) slot, the one-hot op of the edge there or
  zeros -- (2+3+4+5) slots x 7 ops x 2 cells = 196 values.

``size`` counts genotypes with edges in increasing input order (about 1.08e18), not equivalence
classes.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from robnas.errors import ParseError
from robnas.spaces.base import SearchSpace, register_space
from robnas.spaces.darts.drawing import draw_genotype
from robnas.spaces.darts.genotype import (EDGES_PER_NODE, GENOTYPES, NUM_CELL_INPUTS, NUM_INTERMEDIATE_NODES,
                                          OPS_DARTS, Edge, Genotype, edges_by_node, parse_genotype)
from robnas.spaces.darts.network import darts_network
from robnas.spaces.darts.supernet import DartsSupernet

#: Operations a derived edge can carry (DARTS never derives ``none``).
EDGE_OPS: tuple[str, ...] = tuple(op for op in OPS_DARTS if op != "none")
NODES = tuple(range(NUM_CELL_INPUTS, NUM_CELL_INPUTS + NUM_INTERMEDIATE_NODES))  # 2, 3, 4, 5
CELLS = ("normal", "reduce")
CONCAT = NODES

Cell = tuple[tuple[Edge, Edge], ...]  # per intermediate node, its two edges in increasing input order


def _input_pairs(node: int) -> list[tuple[int, int]]:
    return list(itertools.combinations(range(node), EDGES_PER_NODE))


def _sorted_node(edges: Sequence[Edge]) -> tuple[Edge, Edge]:
    low, high = sorted(edges, key=lambda e: (e[1], e[0]))
    return low, high


def _to_text(normal: Cell, reduce: Cell) -> str:
    return Genotype(normal=[e for node in normal for e in node], normal_concat=CONCAT,
                    reduce=[e for node in reduce for e in node], reduce_concat=CONCAT).to_str()


def _check_cell(text: str, genotype: Genotype, cell: str) -> Cell:
    """The cell's nodes in normal form; ParseError if the DARTS space cannot derive it."""
    nodes = []
    for node, edges in zip(NODES, edges_by_node(getattr(genotype, cell))):
        if edges[0][1] == edges[1][1]:
            raise ParseError(f"genotype {text[:80]!r}...: node {node} of the {cell} cell reads input {edges[0][1]} "
                             f"twice; the DARTS search space gives each node two distinct inputs")
        nodes.append(_sorted_node(edges))
    concat = getattr(genotype, f"{cell}_concat")
    if sorted(concat) != list(CONCAT):
        raise ParseError(f"genotype {text[:80]!r}...: {cell}_concat is {list(concat)}; the DARTS search space "
                         f"concatenates every intermediate node, use range(2, 6)")
    return tuple(nodes)


@lru_cache(maxsize=4096)
def _canonical_cell(cell: Cell) -> Cell:
    """The smallest renumbering of the intermediate nodes that keeps every input before its reader."""
    best: Cell | None = None
    for perm in itertools.permutations(NODES):
        label = {**{i: i for i in range(NUM_CELL_INPUTS)}, **dict(zip(NODES, perm))}
        if any(label[j] >= label[node] for node, edges in zip(NODES, cell) for _, j in edges):
            continue
        renamed = sorted((label[node], _sorted_node([(op, label[j]) for op, j in edges]))
                         for node, edges in zip(NODES, cell))
        form = tuple(edges for _, edges in renamed)
        best = form if best is None or form < best else best
    assert best is not None  # the identity renumbering is always valid
    return best


@register_space("darts")
class DartsSpace(SearchSpace):
    """Discrete DARTS cells: two distinct inputs per node, non-``none`` ops, full concatenation."""

    arch_kwarg = "genotype"
    network = darts_network
    tiny_size = {"C": 4, "layers": 3}
    supernet_class = DartsSupernet

    def _cells(self, arch: str) -> tuple[Cell, Cell]:
        genotype = parse_genotype(arch)
        normal, reduce = (_check_cell(arch, genotype, cell) for cell in CELLS)
        return normal, reduce

    def sample(self, rng: random.Random) -> str:
        def cell() -> Cell:
            nodes = []
            for node in NODES:
                low, high = rng.choice(_input_pairs(node))
                nodes.append(((rng.choice(EDGE_OPS), low), (rng.choice(EDGE_OPS), high)))
            return tuple(nodes)

        normal = cell()
        return _to_text(normal, cell())

    def neighbours(self, arch: str) -> list[str]:
        cells = self._cells(arch)
        out: dict[str, None] = {}  # ordered set: deterministic order, no duplicates
        for c, cell in enumerate(cells):
            for n, (node, edges) in enumerate(zip(NODES, cell)):
                used = {j for _, j in edges}
                for e, (op, j) in enumerate(edges):
                    changed = [(other, j) for other in EDGE_OPS if other != op]
                    changed += [(op, k) for k in range(node) if k not in used]
                    for edge in changed:
                        new_node = _sorted_node([edge if i == e else old for i, old in enumerate(edges)])
                        new_cell = cell[:n] + (new_node,) + cell[n + 1:]
                        new_cells = (new_cell, cells[1]) if c == 0 else (cells[0], new_cell)
                        out[_to_text(*new_cells)] = None
        return list(out)

    def validate(self, arch: str) -> str:
        self._cells(arch)
        return parse_genotype(arch).to_str()

    def key(self, arch: str) -> str:
        normal, reduce = self._cells(arch)
        return _to_text(_canonical_cell(normal), _canonical_cell(reduce))

    def size(self) -> int:
        per_cell = 1
        for node in NODES:
            per_cell *= len(_input_pairs(node)) * len(EDGE_OPS) ** EDGES_PER_NODE
        return per_cell ** len(CELLS)

    def example(self) -> str:
        return GENOTYPES["DARTS_V2"].to_str()

    def encode(self, arch: str) -> np.ndarray:
        blocks = []
        for cell in self._cells(arch):
            for node, edges in zip(NODES, cell):
                block = np.zeros((node, len(EDGE_OPS)), dtype=np.float32)
                for op, j in edges:
                    block[j, EDGE_OPS.index(op)] = 1.0
                blocks.append(block.reshape(-1))
        return np.concatenate(blocks)

    def to_vector(self, arch: str) -> np.ndarray:
        genes = []
        for cell in self._cells(arch):
            for node, (low, high) in zip(NODES, cell):
                genes += [_input_pairs(node).index((low[1], high[1])), EDGE_OPS.index(low[0]), EDGE_OPS.index(high[0])]
        return np.asarray(genes, dtype=np.int64)

    def from_vector(self, vec: Sequence[int] | np.ndarray) -> str:
        genes = iter(self.check_vector(vec).tolist())
        cells = []
        for _ in CELLS:
            nodes = []
            for node in NODES:
                low, high = _input_pairs(node)[next(genes)]
                nodes.append(((EDGE_OPS[next(genes)], low), (EDGE_OPS[next(genes)], high)))
            cells.append(tuple(nodes))
        return _to_text(*cells)

    def vector_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        high = [g for node in NODES for g in (len(_input_pairs(node)) - 1, len(EDGE_OPS) - 1, len(EDGE_OPS) - 1)]
        high = high * len(CELLS)
        return np.zeros(len(high), dtype=np.int64), np.asarray(high, dtype=np.int64)



    def draw_cell(self, arch: str, path: str | Path) -> Path:
        return draw_genotype(self.validate(arch), path)
