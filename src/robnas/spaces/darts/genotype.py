"""DARTS genotypes: the immutable cell description, its canonical text, and a safe parser.

A genotype lists, for each of the 4 intermediate nodes of a normal and a reduction cell, the two
incoming edges ``(op_name, input_index)``; inputs 0 and 1 are the outputs of the previous two
cells, input ``k >= 2`` is intermediate node ``k``. The text format is the one every DARTS-family
paper publishes (a Python ``namedtuple`` repr); it is parsed by walking a restricted syntax tree,
never by ``eval``, because genotype strings come from configs and the command line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

from robnas.errors import InvalidValueError, ParseError

#: The DARTS operations in the order of the published search space; architecture weights
#: (alphas) are indexed by position in this tuple, so the order must never change.
OPS_DARTS: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)

#: Cell inputs (previous two cells) and intermediate nodes of every DARTS cell.
NUM_CELL_INPUTS = 2
NUM_INTERMEDIATE_NODES = 4
EDGES_PER_NODE = 2

Edge = tuple[str, int]

_FORMAT_HINT = (
    "expected Genotype(normal=[('sep_conv_3x3', 0), ...8 edges], normal_concat=[2, 3, 4, 5], "
    "reduce=[...8 edges], reduce_concat=range(2, 6))"
)
_FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")
_MAX_TEXT_LENGTH = 10_000


@dataclass(frozen=True)
class Genotype:
    """A derived DARTS cell pair; lists given to the constructor are stored as tuples."""

    normal: tuple[Edge, ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[Edge, ...]
    reduce_concat: tuple[int, ...]

    def __post_init__(self) -> None:
        # Normalise lists/ranges to tuples so equal genotypes compare and hash equal.
        for cell in ("normal", "reduce"):
            edges = tuple(getattr(self, cell))
            if not all(isinstance(e, (tuple, list)) and len(e) == 2 for e in edges):
                raise InvalidValueError(f"genotype field {cell!r} must hold (op, input) pairs")
            edges = tuple((op, idx) for op, idx in edges)
            object.__setattr__(self, cell, edges)
            _check_edges(cell, edges)
        for concat in ("normal_concat", "reduce_concat"):
            values = tuple(getattr(self, concat))
            object.__setattr__(self, concat, values)
            _check_concat(concat, values)

    def to_str(self) -> str:
        """The canonical published text, e.g. ``Genotype(normal=[('sep_conv_3x3', 0), ...], ...)``."""

        def edges(es: tuple[Edge, ...]) -> str:
            return "[" + ", ".join(f"({op!r}, {idx})" for op, idx in es) + "]"

        def concat(cs: tuple[int, ...]) -> str:
            return "[" + ", ".join(str(c) for c in cs) + "]"

        return (
            f"Genotype(normal={edges(self.normal)}, normal_concat={concat(self.normal_concat)}, "
            f"reduce={edges(self.reduce)}, reduce_concat={concat(self.reduce_concat)})"
        )

    @classmethod
    def from_str(cls, text: str) -> Genotype:
        return parse_genotype(text)

    def __str__(self) -> str:
        return self.to_str()


def _check_edges(cell: str, edges: tuple[Edge, ...]) -> None:
    # Per-edge problems first: "unknown op 'sep_conv_9x9'" says more than a wrong edge count.
    for position, (op, idx) in enumerate(edges):
        node = NUM_CELL_INPUTS + position // EDGES_PER_NODE
        if not isinstance(op, str) or op not in OPS_DARTS or op == "none":
            allowed = ", ".join(o for o in OPS_DARTS if o != "none")
            raise InvalidValueError(f"genotype field {cell!r} has unknown op {op!r}; allowed: {allowed}")
        if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < node:
            raise InvalidValueError(
                f"genotype field {cell!r}: edge {position} ({op!r}, {idx!r}) feeds node {node}, "
                f"so its input index must be an integer in 0..{node - 1}"
            )
    expected = NUM_INTERMEDIATE_NODES * EDGES_PER_NODE
    if len(edges) != expected:
        raise InvalidValueError(
            f"genotype field {cell!r} has {len(edges)} edges, needs {expected} "
            f"({EDGES_PER_NODE} per intermediate node)"
        )


def _check_concat(field: str, values: tuple[int, ...]) -> None:
    nodes = range(NUM_CELL_INPUTS, NUM_CELL_INPUTS + NUM_INTERMEDIATE_NODES)
    if not values:
        raise InvalidValueError(f"genotype field {field!r} is empty; use range(2, 6)")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v not in nodes:
            raise InvalidValueError(
                f"genotype field {field!r} has index {v!r}; concat indices must be intermediate nodes "
                f"{nodes.start}..{nodes.stop - 1}"
            )
    if len(set(values)) != len(values):
        raise InvalidValueError(f"genotype field {field!r} repeats an index: {list(values)}")


# --- parsing ------------------------------------------------------------------------------------


def _fail(problem: str) -> ParseError:
    return ParseError(f"malformed genotype: {problem}; {_FORMAT_HINT}")


def _int_literal(node: ast.expr, what: str) -> int:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    raise _fail(f"{what} must be an integer literal, got {_describe(node)}")


def _describe(node: ast.AST) -> str:
    try:
        return repr(ast.unparse(node))[:60]
    except Exception:  # ast.unparse cannot fail on parsed input, but never let a message crash
        return type(node).__name__


def _parse_edges(field: str, node: ast.expr) -> list[Edge]:
    if not isinstance(node, (ast.List, ast.Tuple)):
        raise _fail(f"{field} must be a list of (op, input) tuples, got {_describe(node)}")
    edges = []
    for item in node.elts:
        if not (isinstance(item, ast.Tuple) and len(item.elts) == 2):
            raise _fail(f"{field} entries must be (op, input) pairs, got {_describe(item)}")
        op_node, idx_node = item.elts
        if not (isinstance(op_node, ast.Constant) and isinstance(op_node.value, str)):
            raise _fail(f"{field}: op name must be a quoted string, got {_describe(op_node)}")
        edges.append((op_node.value, _int_literal(idx_node, f"{field}: input index")))
    return edges


def _parse_concat(field: str, node: ast.expr) -> list[int]:
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_int_literal(e, f"{field} entry") for e in node.elts]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "range"
        and not node.keywords
        and 1 <= len(node.args) <= 2
    ):
        bounds = [_int_literal(a, f"{field} range bound") for a in node.args]
        return list(range(*bounds))
    raise _fail(f"{field} must be a list of node indices or range(a, b), got {_describe(node)}")


def parse_genotype(text: str) -> Genotype:
    """Parse the published genotype text (the ``Genotype(`` prefix is optional) without ``eval``."""
    if not isinstance(text, str):
        raise ParseError(f"malformed genotype: expected a string, got {type(text).__name__}; {_FORMAT_HINT}")
    body = text.strip()
    if len(body) > _MAX_TEXT_LENGTH:  # published genotypes are ~500 characters
        raise _fail(f"text of {len(body)} characters is far too long for a genotype")
    if not body.startswith("Genotype"):
        body = f"Genotype({body})"
    try:
        tree = ast.parse(body, mode="eval")
    except SyntaxError as exc:
        raise _fail(f"not valid genotype syntax ({exc.msg})") from None
    except (ValueError, RecursionError, MemoryError):  # null bytes, absurd nesting
        raise _fail("not valid genotype syntax") from None
    call = tree.body
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "Genotype"):
        raise _fail(f"expected a single Genotype(...) expression, got {_describe(call)}")
    if call.args:
        raise _fail("fields must be given by name (normal=..., normal_concat=..., ...)")
    given = {kw.arg: kw.value for kw in call.keywords}
    if None in given:
        raise _fail("** arguments are not allowed")
    unknown = sorted(set(given) - set(_FIELDS))
    if unknown:
        raise _fail(f"unknown field(s) {', '.join(unknown)}")
    if len(call.keywords) != len(given):
        raise _fail("a field is given twice")
    # Check the fields that are present before complaining about absent ones, so a typo in an
    # op name is reported as such even in an incomplete genotype.
    values: dict[str, tuple] = {}
    try:
        for name in _FIELDS:
            if name not in given:
                continue
            if name.endswith("_concat"):
                values[name] = tuple(_parse_concat(name, given[name]))
                _check_concat(name, values[name])
            else:
                values[name] = tuple(_parse_edges(name, given[name]))
                _check_edges(name, values[name])
    except InvalidValueError as exc:
        raise _fail(str(exc)) from None
    missing = [f for f in _FIELDS if f not in given]
    if missing:
        raise _fail(f"missing field(s) {', '.join(missing)}")
    return Genotype(**values)


def genotype_from(value: Genotype | str) -> Genotype:
    """Accept a :class:`Genotype` or its text (configs and the CLI pass text)."""
    return value if isinstance(value, Genotype) else parse_genotype(value)


# --- published genotypes ------------------------------------------------------------------------

# The texts exactly as published (reference facts, section 1); parsed at import so a typo fails
# loudly. Note: at C=36/20 cells the genotypes labelled RNAS_H and RNAS_L here have 3.50M and 3.17M
# parameters, while the RNAS paper lists RNAS-H at 3.2M and RNAS-L at 3.5M; the labels follow the
# public genotype files, and the mismatch is recorded rather than silently "fixed".
_PUBLISHED: dict[str, str] = {
    "DARTS_V1": "Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)], reduce_concat=[2, 3, 4, 5])",  # noqa: E501
    "DARTS_V2": "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])",  # noqa: E501
    "PDARTS": "Genotype(normal=[('skip_connect', 0), ('dil_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('sep_conv_3x3', 3), ('sep_conv_3x3', 0), ('dil_conv_5x5', 4)], normal_concat=range(2, 6), reduce=[('avg_pool_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_3x3', 0), ('dil_conv_5x5', 2), ('max_pool_3x3', 0), ('dil_conv_3x3', 1), ('dil_conv_3x3', 1), ('dil_conv_5x5', 3)], reduce_concat=range(2, 6))",  # noqa: E501
    "PC_DARTS": "Genotype(normal=[('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 0), ('dil_conv_3x3', 1), ('sep_conv_5x5', 0), ('sep_conv_3x3', 1), ('avg_pool_3x3', 0), ('dil_conv_3x3', 1)], normal_concat=range(2, 6), reduce=[('sep_conv_5x5', 1), ('max_pool_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_5x5', 2), ('sep_conv_3x3', 0), ('sep_conv_3x3', 3), ('sep_conv_3x3', 1), ('sep_conv_3x3', 2)], reduce_concat=range(2, 6))",  # noqa: E501
    "ADVRUSH": "Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_5x5', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1)], normal_concat=range(2, 6), reduce=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('dil_conv_3x3', 2), ('skip_connect', 0), ('avg_pool_3x3', 1), ('skip_connect', 0), ('skip_connect', 2)], reduce_concat=range(2, 6))",  # noqa: E501
    "RACL": "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_5x5', 0), ('skip_connect', 1), ('sep_conv_3x3', 0), ('skip_connect', 3), ('sep_conv_3x3', 3), ('skip_connect', 4)], normal_concat=[2, 3, 4, 5], reduce=[('sep_conv_3x3', 0), ('sep_conv_5x5', 1), ('avg_pool_3x3', 0), ('dil_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_3x3', 2), ('dil_conv_3x3', 3)], reduce_concat=[2, 3, 4, 5])",  # noqa: E501
    "RNAS_H": "Genotype(normal=[('dil_conv_5x5', 0), ('dil_conv_5x5', 1), ('dil_conv_5x5', 0), ('dil_conv_3x3', 1), ('dil_conv_5x5', 3), ('sep_conv_5x5', 0), ('dil_conv_5x5', 0), ('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('avg_pool_3x3', 1), ('dil_conv_5x5', 0), ('dil_conv_5x5', 2), ('sep_conv_5x5', 0), ('sep_conv_3x3', 3), ('skip_connect', 0), ('sep_conv_5x5', 0), ('sep_conv_5x5', 4)], reduce_concat=range(2, 6))",  # noqa: E501
    "RNAS_L": "Genotype(normal=[('dil_conv_5x5', 0), ('dil_conv_5x5', 1), ('skip_connect', 2), ('dil_conv_5x5', 0), ('sep_conv_5x5', 0), ('sep_conv_3x3', 1), ('avg_pool_3x3', 0), ('skip_connect', 2)], normal_concat=range(2, 6), reduce=[('sep_conv_5x5', 0), ('sep_conv_3x3', 1), ('sep_conv_5x5', 2), ('sep_conv_3x3', 1), ('dil_conv_3x3', 3), ('dil_conv_5x5', 2), ('sep_conv_5x5', 3), ('sep_conv_3x3', 2)], reduce_concat=range(2, 6))",  # noqa: E501
}

#: Every published genotype by its usual name (``DARTS_V2``, ``PDARTS``, ``ADVRUSH``, ...).
GENOTYPES: dict[str, Genotype] = {name: parse_genotype(text) for name, text in _PUBLISHED.items()}


def edges_by_node(edges: Iterable[Edge]) -> list[list[Edge]]:
    """Group a cell's flat edge list into the ``EDGES_PER_NODE`` edges of each intermediate node."""
    flat = list(edges)
    return [flat[i : i + EDGES_PER_NODE] for i in range(0, len(flat), EDGES_PER_NODE)]
