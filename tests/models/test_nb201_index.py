"""NAS-Bench-201 ids and the canonical key: the published order and the 6466 equivalence classes."""

from __future__ import annotations

import pytest

from robnas.errors import InvalidValueError, ParseError
from robnas.spaces.nb201.index import (NUM_ARCHS, all_archs, arch_of, canonical_key, index_of, representative_of,
                                       representatives, unique_ids)

ID0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"


def test_id_order_is_nas_bench_201s():
    assert arch_of(0) == ID0
    assert len(set(all_archs())) == NUM_ARCHS == 15625
    for i in (0, 1, 777, 15624):
        assert index_of(arch_of(i)) == i
    assert index_of("  " + ID0 + " ") == 0


def test_exactly_6466_classes_represented_by_their_lowest_id():
    ids = unique_ids()
    assert len(ids) == 6466
    reps = representatives()
    for i in (0, 5, 100, 15624):
        rep = reps[i]
        assert rep <= i and canonical_key(arch_of(rep)) == canonical_key(arch_of(i))
        assert representative_of(i) == rep and reps[rep] == rep


def test_canonical_key_identifies_equivalent_cells():
    # the output node reads only the input through skip: what nodes 1 and 2 compute is irrelevant
    a_skip = "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|none~2|"
    b_skip = "|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|none~2|"
    assert canonical_key(a_skip) == canonical_key(b_skip) == "#+#+0"
    # a node whose every input is none is exactly "#" only with one edge; node 2 dead gives "#+#" (the rule)
    assert canonical_key("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|") == "#+#+#+#"
    # edge order inside a node does not matter: terms are sorted
    a = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|nor_conv_3x3~1|none~2|"
    b = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|nor_conv_3x3~1|none~2|"
    assert canonical_key(a) == canonical_key(b)
    different = "|nor_conv_1x1~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|nor_conv_3x3~1|none~2|"
    assert canonical_key(different) != canonical_key(a)


@pytest.mark.parametrize("bad", [-1, 15625, 3.0, True])
def test_bad_ids(bad):
    with pytest.raises(InvalidValueError, match="0..15624"):
        arch_of(bad)


def test_bad_arch_string():
    with pytest.raises(ParseError):
        index_of("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|")
