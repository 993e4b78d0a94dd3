"""NAS-Bench-201 space: the id interface names, neighbourhoods and the BANANAS path encoding."""

from __future__ import annotations

import numpy as np

from robnas.spaces import get_space
from robnas.spaces import nb201
from robnas.spaces.nb201.encoding import PATH_ENCODING_LENGTH
from robnas.spaces.nb201.index import canonical_key, representative_of

ID0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"


def test_id_interface_names():
    assert nb201.arch_str(0) == ID0 and nb201.index_of(ID0) == 0
    for i in (3, 4000, 15624):
        arch = nb201.arch_str(i)
        assert nb201.index_of(arch) == i
        assert nb201.unique_key(arch) == canonical_key(arch) == get_space("nb201").key(arch)
        assert nb201.representative(i) == representative_of(i) <= i


def test_neighbours_change_exactly_one_edge():
    space = get_space("nb201")
    neighbours = space.neighbours(ID0)
    assert len(neighbours) == 6 * 4
    parent = space.to_vector(ID0)
    for n in neighbours:
        assert int(np.sum(space.to_vector(n) != parent)) == 1


def test_path_encoding_hand_checked():
    # edges: 1<-0 nor_conv_3x3 (op 3), 2<-0 none (0), 2<-1 skip (1), 3<-0 avg_pool (4),
    #        3<-1 nor_conv_1x1 (2), 3<-2 nor_conv_3x3 (3)
    arch = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|"
    code = get_space("nb201").encode(arch)
    assert PATH_ENCODING_LENGTH == 5 + 25 + 125 == code.size
    # 0->3: [4] -> 4;  0->1->3: [3, 2] -> 5+3+2*5 = 18;  0->2->3: [0, 3] -> 5+0+3*5 = 20;
    # 0->1->2->3: [3, 1, 3] -> 30+3+1*5+3*25 = 113
    assert np.flatnonzero(code).tolist() == [4, 18, 20, 113]


def test_path_encoding_merges_paths_with_equal_op_sequences():
    # both length-2 paths carry (nor_conv_3x3, nor_conv_3x3): one bit for the two of them
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    code = get_space("nb201").encode(arch)
    assert np.flatnonzero(code).tolist() == [0, 5 + 3 + 3 * 5, 30 + 3 + 0 * 5 + 3 * 25]


def test_adjacency_encoding():
    code = get_space("nb201", encoding="adjacency").encode(ID0)
    assert code.shape == (30,) and code.sum() == 6
    assert code.reshape(6, 5).argmax(1).tolist() == [4, 2, 1, 2, 1, 1]


def test_closed_form_parameter_count_equals_the_built_network():
    import random

    from robnas.spaces import get_space

    space, rng = get_space("nb201"), random.Random(3)
    for _ in range(12):
        arch = space.sample(rng)
        for size in ({"C": 8, "N": 1}, {"C": 16, "N": 5}, {"C": 4, "N": 2}):
            net = space.build(arch, num_classes=10, in_channels=3, **size)
            assert space.count_params(arch, num_classes=10, in_channels=3, **size) == sum(
                p.numel() for p in net.parameters())
