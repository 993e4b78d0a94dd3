"""NAS-Bench-201 architecture strings: ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.

The string lists, for nodes 1, 2 and 3 of the cell, one edge ``op~j`` from every earlier node
``j`` in increasing order. It is the interchange format of NAS-Bench-201 and its derived datasets,
so it is parsed strictly: anything else is rejected with a one-line explanation.
"""

from __future__ import annotations

from functools import lru_cache

from robnas.errors import ParseError

OPS_NB201: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")

#: Intermediate nodes of a cell (node 0 is the cell input; node 3 is its output).
NUM_NODES = 3

Arch = tuple[tuple[tuple[str, int], ...], ...]

_FORMAT = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2| with op in " + ", ".join(OPS_NB201)


def _fail(text: str, problem: str) -> ParseError:
    return ParseError(f"malformed NAS-Bench-201 arch {text[:120]!r}: {problem}; expected {_FORMAT}")


def _parse_node(text: str, node_text: str, node: int) -> tuple[tuple[str, int], ...]:
    if not (node_text.startswith("|") and node_text.endswith("|") and len(node_text) > 1):
        raise _fail(text, f"node {node} {node_text!r} must start and end with '|'")
    edges_text = node_text[1:-1].split("|")
    if len(edges_text) != node:
        raise _fail(text, f"node {node} has {len(edges_text)} edges, needs {node} (one from each earlier node)")
    edges = []
    for expected_input, edge in enumerate(edges_text):
        op, sep, index = edge.partition("~")
        if not sep:
            raise _fail(text, f"edge {edge!r} of node {node} is not of the form op~input")
        if op not in OPS_NB201:
            raise _fail(text, f"unknown op {op!r} in node {node}")
        if index != str(expected_input):
            raise _fail(text, f"edge {edge!r} of node {node} must come from node {expected_input}")
        edges.append((op, expected_input))
    return tuple(edges)


def parse_arch(text: str) -> Arch:
    """Parse an arch string into ``((op, input), ...)`` per node, validating it completely."""
    if not isinstance(text, str):
        raise ParseError(f"malformed NAS-Bench-201 arch: expected a string, got {type(text).__name__}; "
                         f"expected {_FORMAT}")
    return _parse(text)


@lru_cache(maxsize=1 << 16)
def _parse(text: str) -> Arch:
    # Cached: searches parse the same few thousand strings again and again (keys, neighbours,
    # encodings); the result is immutable, and a malformed string raises (exceptions are not cached).
    stripped = text.strip()
    nodes_text = stripped.split("+")
    if len(nodes_text) != NUM_NODES:
        raise _fail(text, f"found {len(nodes_text)} nodes separated by '+', needs {NUM_NODES}")
    return tuple(_parse_node(stripped, node_text, i + 1) for i, node_text in enumerate(nodes_text))


def arch_to_str(nodes: Arch) -> str:
    """The arch string of parsed nodes (the inverse of :func:`parse_arch`); invalid nodes raise."""
    text = "+".join("|" + "|".join(f"{op}~{j}" for op, j in node) + "|" for node in nodes)
    parse_arch(text)  # never hand out a string that would not parse back
    return text
