"""NAS-Bench-201 arch strings: strict parsing, round trip, one-line errors."""

from __future__ import annotations

import itertools

import pytest

from robnas.errors import ParseError
from robnas.spaces.nb201 import OPS_NB201, arch_to_str, parse_arch

EXAMPLE = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"


def test_ops_are_in_the_benchmark_order():
    assert OPS_NB201 == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


def test_parses_the_published_example():
    assert parse_arch(EXAMPLE) == (
        (("avg_pool_3x3", 0),),
        (("nor_conv_1x1", 0), ("skip_connect", 1)),
        (("nor_conv_1x1", 0), ("skip_connect", 1), ("skip_connect", 2)),
    )
    assert arch_to_str(parse_arch(EXAMPLE)) == EXAMPLE


def test_round_trip_over_a_sample_of_the_space():
    # Every 97th cell of the 15625 (a fixed, op-diverse sample): parse(to_str(x)) == x.
    cells = list(itertools.product(OPS_NB201, repeat=6))[::97]
    for ops in cells:
        nodes = ((ops[0], 0),), ((ops[1], 0), (ops[2], 1)), ((ops[3], 0), (ops[4], 1), (ops[5], 2))
        assert parse_arch(arch_to_str(nodes)) == nodes


def test_surrounding_whitespace_is_ignored():
    assert parse_arch(f"  {EXAMPLE}\n") == parse_arch(EXAMPLE)


MALFORMED = {
    "unknown op": EXAMPLE.replace("avg_pool_3x3~0", "max_pool_3x3~0"),
    "wrong input index": EXAMPLE.replace("skip_connect~2", "skip_connect~1"),
    "inputs out of order": "|avg_pool_3x3~0|+|skip_connect~1|nor_conv_1x1~0|+|none~0|none~1|none~2|",
    "missing edge": "|avg_pool_3x3~0|+|nor_conv_1x1~0|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    "extra edge": "|avg_pool_3x3~0|none~1|+|nor_conv_1x1~0|skip_connect~1|+|none~0|none~1|none~2|",
    "two nodes": "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|",
    "four nodes": EXAMPLE + "+|none~0|none~1|none~2|none~3|",
    "missing bar": EXAMPLE[1:],
    "missing tilde": EXAMPLE.replace("avg_pool_3x3~0", "avg_pool_3x3 0"),
    "non-numeric input": EXAMPLE.replace("avg_pool_3x3~0", "avg_pool_3x3~a"),
    "padded input": EXAMPLE.replace("avg_pool_3x3~0", "avg_pool_3x3~00"),
    "injection": "__import__('os')",
    "empty": "",
}


@pytest.mark.parametrize("text", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_arch_raises_a_one_line_parse_error(text):
    with pytest.raises(ParseError) as info:
        parse_arch(text)
    message = str(info.value)
    assert "\n" not in message
    assert "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|" in message  # shows the expected format


def test_errors_name_the_problem():
    with pytest.raises(ParseError, match="unknown op 'max_pool_3x3'"):
        parse_arch(MALFORMED["unknown op"])
    with pytest.raises(ParseError, match="node 2 has 1 edges"):
        parse_arch(MALFORMED["missing edge"])


def test_non_string_and_invalid_nodes_are_rejected():
    with pytest.raises(ParseError):
        parse_arch(None)  # type: ignore[arg-type]
    with pytest.raises(ParseError):
        arch_to_str(((("conv", 0),), (("none", 0), ("none", 1)), (("none", 0), ("none", 1), ("none", 2))))
