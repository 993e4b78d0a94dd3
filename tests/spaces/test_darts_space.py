"""Discrete DARTS space: validity rules, neighbourhood, and the relabelling-invariant key."""

from __future__ import annotations

import numpy as np
import pytest

from robnas.errors import ParseError
from robnas.spaces import get_space
from robnas.spaces.darts import GENOTYPES, parse_genotype
from robnas.spaces.darts.genotype import edges_by_node

SPACE = get_space("darts")
REDUCE = ("reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 0), ('skip_connect', 2), "
          "('avg_pool_3x3', 1), ('sep_conv_3x3', 3), ('dil_conv_3x3', 0), ('sep_conv_5x5', 4)], "
          "reduce_concat=[2, 3, 4, 5]")


def _genotype(normal: str, concat: str = "[2, 3, 4, 5]") -> str:
    return f"Genotype(normal=[{normal}], normal_concat={concat}, {REDUCE})"


# nodes 2 and 3 read only the cell inputs; node 4 reads node 2, node 5 reads node 3
A = _genotype("('sep_conv_3x3', 0), ('skip_connect', 1), ('dil_conv_3x3', 0), ('max_pool_3x3', 1), "
              "('sep_conv_5x5', 2), ('avg_pool_3x3', 0), ('skip_connect', 3), ('sep_conv_3x3', 1)")
# the same cell with nodes 2 and 3 (and so 4 and 5) swapped, and edges of a node listed in another order
A_RELABELLED = _genotype("('max_pool_3x3', 1), ('dil_conv_3x3', 0), ('skip_connect', 1), ('sep_conv_3x3', 0), "
                         "('sep_conv_3x3', 1), ('skip_connect', 2), ('sep_conv_5x5', 3), ('avg_pool_3x3', 0)")
# one op changed
B = _genotype("('sep_conv_3x3', 0), ('skip_connect', 1), ('dil_conv_5x5', 0), ('max_pool_3x3', 1), "
              "('sep_conv_5x5', 2), ('avg_pool_3x3', 0), ('skip_connect', 3), ('sep_conv_3x3', 1)")


def test_key_ignores_node_numbering_and_edge_order():
    assert SPACE.key(A) == SPACE.key(A_RELABELLED)
    assert SPACE.key(A) != SPACE.key(B)
    assert SPACE.key(SPACE.key(A)) == SPACE.key(A), "the key is itself an architecture of the space"
    # wiring matters: node 4 reading node 3 instead of node 2 is another cell
    C = A.replace("('sep_conv_5x5', 2)", "('sep_conv_5x5', 3)", 1)
    assert SPACE.key(C) != SPACE.key(A)


def test_published_genotypes_belong_to_the_space():
    for genotype in GENOTYPES.values():
        text = genotype.to_str()
        assert SPACE.validate(text) == text
        assert SPACE.key(SPACE.from_vector(SPACE.to_vector(text))) == SPACE.key(text)


@pytest.mark.parametrize("bad, problem", [
    (A.replace("('skip_connect', 1)", "('skip_connect', 0)", 1), "twice"),
    (_genotype("('sep_conv_3x3', 0), ('skip_connect', 1), " * 4, "[2, 3]"), "concat"),
    (A.replace("sep_conv_3x3", "none", 1), "unknown op"),
])
def test_cells_darts_cannot_derive_are_refused(bad, problem):
    with pytest.raises(ParseError, match=problem):
        SPACE.validate(bad)


def test_neighbours_change_one_edge():
    neighbours = SPACE.neighbours(A)
    # per cell: 8 edges x 6 other ops + input moves 0 + 2x1 + 2x2 + 2x3
    assert len(neighbours) == 2 * (8 * 6 + 12)
    parent = parse_genotype(A)
    for text in neighbours:
        child = parse_genotype(text)
        changed = 0
        for cell in ("normal", "reduce"):
            for old, new in zip(edges_by_node(getattr(parent, cell)), edges_by_node(getattr(child, cell))):
                changed += len(set(old) - set(new))
        assert changed == 1


def test_integer_genome_layout():
    low, high = SPACE.vector_bounds()
    assert low.tolist() == [0] * 24
    assert high.tolist() == [0, 6, 6, 2, 6, 6, 5, 6, 6, 9, 6, 6] * 2
    assert SPACE.size() == (1 * 3 * 6 * 10 * 7**8) ** 2
    assert SPACE.encode(A).shape == ((2 + 3 + 4 + 5) * 7 * 2,) and SPACE.encode(A).sum() == 16
    assert np.array_equal(SPACE.to_vector(A), SPACE.to_vector(SPACE.from_vector(SPACE.to_vector(A))))
