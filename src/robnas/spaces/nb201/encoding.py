"""Feature vectors of NAS-Bench-201 cells for performance predictors.

**Path encoding** (BANANAS, White et al. 2021): one bit per possible *sequence of operations* along
a path from the cell input (node 0) to the cell output (node 3). A cell has four such paths, over
the edges (edge numbers as in the arch string: 0 = 1<-0, 1 = 2<-0, 2 = 2<-1, 3 = 3<-0,
4 = 3<-1, 5 = 3<-2)::

    0 -> 3            [3]          length 1:   5 op sequences
    0 -> 1 -> 3       [0, 4]       length 2:  25 op sequences (shared by both length-2 paths)
    0 -> 2 -> 3       [1, 5]
    0 -> 1 -> 2 -> 3  [0, 2, 5]    length 3: 125 op sequences

so the vector has 5 + 5^2 + 5^3 = 155 bits and exactly four of them are set (fewer when the two
length-2 paths carry the same op pair). The bit of a path with ops ``o_1 .. o_k`` (indices in
``OPS_NB201``, first edge first) is ``offset_k + sum_j o_j * 5^(j-1)`` with offsets 0, 5, 30.
As in the BANANAS/NASLib code, ``none`` counts as an operation (a path through ``none`` still has
a bit); the two length-2 paths are not told apart because a path is its op sequence.

Departure: the bit positions follow robnas' op order (``none, skip_connect, nor_conv_1x1,
nor_conv_3x3, avg_pool_3x3`` -- NAS-Bench-201's), while NASLib orders ops ``avg_pool_3x3,
nor_conv_1x1, nor_conv_3x3, none, skip_connect``; the vectors are a fixed permutation of each
other and carry the same information.

**Adjacency one-hot**: the op of each of the 6 edges one-hot over the 5 ops (30 values).
"""

from __future__ import annotations

import numpy as np

from robnas.spaces.nb201.arch import OPS_NB201, Arch

NUM_OPS = len(OPS_NB201)
#: Edge numbers (position in the arch string) along each input->output path.
PATHS: tuple[tuple[int, ...], ...] = ((3,), (0, 4), (1, 5), (0, 2, 5))
LONGEST_PATH = 3
PATH_ENCODING_LENGTH = sum(NUM_OPS**k for k in range(1, LONGEST_PATH + 1))  # 155
ADJACENCY_ENCODING_LENGTH = 6 * NUM_OPS


def edge_ops(nodes: Arch) -> list[int]:
    """Op index of each of the six edges, in arch-string order."""
    return [OPS_NB201.index(op) for node in nodes for op, _ in node]


def path_index(ops: list[int]) -> int:
    """Bit of a path whose edges carry the op indices ``ops`` (first edge first)."""
    offset = sum(NUM_OPS**k for k in range(1, len(ops)))
    return offset + sum(op * NUM_OPS**j for j, op in enumerate(ops))


def path_encoding(nodes: Arch) -> np.ndarray:
    ops = edge_ops(nodes)
    out = np.zeros(PATH_ENCODING_LENGTH, dtype=np.float32)
    for path in PATHS:
        out[path_index([ops[e] for e in path])] = 1.0
    return out


def adjacency_encoding(nodes: Arch) -> np.ndarray:
    out = np.zeros((6, NUM_OPS), dtype=np.float32)
    out[np.arange(6), edge_ops(nodes)] = 1.0
    return out.reshape(-1)
