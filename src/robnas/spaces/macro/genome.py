"""Macro genomes of NSGA-Net / RoCo-NAS: bit strings, their decoded phase graphs and canonical keys.

**String form.** One bit string per phase, phases joined by ``-``. A phase of ``n`` nodes has
``n(n-1)/2 + 1`` bits: for node ``i = 2..n`` the bits of its connections from nodes ``1..i-1``
(node 2's one bit, node 3's two bits, ...), then the residual bit. With RoCo-NAS' 3 phases of 6
nodes a genome is three 16-bit groups, e.g. ``1011010010000101-0000000000000001-1111111111111110``.

**Decoding** (NSGA-Net's residual decoder): node 0 is the phase input (after a projection to the
phase width), nodes ``1..n`` are conv3x3-BN-ReLU units, node ``n+1`` is the phase output. The
connection bits give each node's inputs; then, as NSGA-Net "repairs" the graph,

* a node with inputs but no consumer feeds the output node;
* a node with consumers but no inputs reads the phase input (node 1 never has genome inputs);
* a node with neither is inactive (no module at all);
* the residual bit makes the output node also read the phase input;
* a phase whose connection bits are all zero is inactive and removed from the network (its
  residual bit does not matter); the remaining phases take the first channel widths.

A node (or the output) with several inputs concatenates them and mixes them with a 1x1
convolution; with one input it uses it directly.

**Canonical key.** Two genomes build the same network exactly when their active phases, in order,
have isomorphic decoded graphs (all nodes carry the same operation, and the order of a
concatenation only permutes the next 1x1 convolution's weights). The key of a phase is the
smallest description of its decoded graph over all topological relabellings of its active nodes;
the genome's key joins the keys of its active phases (``empty`` when none is active).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from robnas.errors import ParseError

PHASE_SEPARATOR = "-"
#: RoCo-NAS: three computational blocks of at most six nodes.
DEFAULT_PHASES = 3
DEFAULT_NODES = 6
#: Smallest phase with a connection bit (two nodes: one bit, plus the residual bit).
MIN_NODES = 2

Bits = tuple[int, ...]


def phase_length(n_nodes: int) -> int:
    """Bits per phase: one per node pair (i > j) plus the residual bit."""
    return n_nodes * (n_nodes - 1) // 2 + 1


def nodes_for_length(length: int) -> int | None:
    """The node count whose phases have ``length`` bits, or ``None`` if no count does."""
    n = round((1 + math.sqrt(max(8 * (length - 1) + 1, 0))) / 2)
    return n if n >= MIN_NODES and phase_length(n) == length else None


def _fail(text: str, problem: str, fix: str) -> ParseError:
    return ParseError(f"malformed macro genome {text[:120]!r}: {problem}; {fix}")


def parse_genome(text: str, n_nodes: int | None = None, n_phases: int | None = None) -> tuple[Bits, ...]:
    """The bits of each phase of a genome string; node and phase counts are checked when given."""
    fix = ("expected phases of 0/1 bits joined by '-', each n(n-1)/2+1 bits long "
           f"(e.g. {DEFAULT_PHASES} phases of {phase_length(DEFAULT_NODES)} bits for {DEFAULT_NODES} nodes)")
    if not isinstance(text, str):
        raise ParseError(f"malformed macro genome: expected a string, got {type(text).__name__}; {fix}")
    groups = text.strip().split(PHASE_SEPARATOR)
    if n_phases is not None and len(groups) != n_phases:
        raise _fail(text, f"found {len(groups)} phases, needs {n_phases}", fix)
    for g, group in enumerate(groups):
        if not group or set(group) - {"0", "1"}:
            raise _fail(text, f"phase {g + 1} {group[:40]!r} is not a non-empty string of 0/1 bits", fix)
    lengths = {len(group) for group in groups}
    if len(lengths) != 1:
        raise _fail(text, f"phases have different lengths {[len(g) for g in groups]}", fix)
    length = lengths.pop()
    if n_nodes is not None and length != phase_length(n_nodes):
        raise _fail(text, f"phases have {length} bits, but {n_nodes} nodes need {phase_length(n_nodes)}", fix)
    if nodes_for_length(length) is None:
        raise _fail(text, f"{length} bits per phase is no node count's length (2 nodes: 2, 3: 4, 4: 7, "
                          f"5: 11, 6: 16, ...)", fix)
    return tuple(tuple(int(b) for b in group) for group in groups)


def format_genome(phases: tuple[Bits, ...] | list[list[int]]) -> str:
    return PHASE_SEPARATOR.join("".join(str(int(b)) for b in bits) for bits in phases)


@dataclass(frozen=True)
class PhaseGraph:
    """A decoded active phase: inputs of each active node and of the output (0 = phase input)."""

    nodes: tuple[int, ...]              # active nodes, ascending (a topological order)
    inputs: tuple[tuple[int, ...], ...]  # inputs[k]: inputs of nodes[k]
    output: tuple[int, ...]              # inputs of the output node


def connection_inputs(bits: Bits, n_nodes: int) -> list[list[int]]:
    """Genome inputs of nodes ``1..n`` (index 0 of the list is node 1), before any repair."""
    inputs: list[list[int]] = [[]]
    pos = 0
    for node in range(2, n_nodes + 1):
        inputs.append([j for j in range(1, node) if bits[pos + j - 1]])
        pos += node - 1
    return inputs


@lru_cache(maxsize=1 << 16)
def decode_phase(bits: Bits) -> PhaseGraph | None:
    """The repaired graph of one phase, or ``None`` if the phase is inactive (no connection bit)."""
    n_nodes = nodes_for_length(len(bits))
    if n_nodes is None:
        raise ParseError(f"a macro phase of {len(bits)} bits has no node count; use n(n-1)/2+1 bits")
    if not any(bits[:-1]):
        return None
    inputs = connection_inputs(bits, n_nodes)
    output = [0] if bits[-1] else []
    consumed = {j for ins in inputs for j in ins}
    for node in range(1, n_nodes + 1):
        has_inputs, has_consumers = bool(inputs[node - 1]), node in consumed
        if has_inputs and not has_consumers:
            output.append(node)
        elif has_consumers and not has_inputs:
            inputs[node - 1] = [0]
    active = tuple(node for node in range(1, n_nodes + 1) if inputs[node - 1])
    return PhaseGraph(active, tuple(tuple(inputs[node - 1]) for node in active), tuple(output))


def active_phases(phases: tuple[Bits, ...]) -> list[PhaseGraph]:
    """Decoded graphs of the active phases, in order (inactive phases are dropped)."""
    return [graph for graph in (decode_phase(bits) for bits in phases) if graph is not None]


def _topological_orders(graph: PhaseGraph) -> list[tuple[int, ...]]:
    preds = {node: {j for j in ins if j} for node, ins in zip(graph.nodes, graph.inputs)}
    orders: list[tuple[int, ...]] = []

    def extend(order: tuple[int, ...], left: frozenset[int]) -> None:
        if not left:
            orders.append(order)
        for node in sorted(left):
            if preds[node] <= set(order):
                extend((*order, node), left - {node})

    extend((), frozenset(graph.nodes))
    return orders


@lru_cache(maxsize=1 << 16)
def phase_key(bits: Bits) -> str:
    """Canonical description of an active phase's decoded graph, e.g. ``1<0 2<0,1 out<0,2``."""
    graph = decode_phase(bits)
    if graph is None:
        return "inactive"
    by_node = dict(zip(graph.nodes, graph.inputs))
    best: tuple | None = None
    for order in _topological_orders(graph):
        label = {0: 0, **{node: k + 1 for k, node in enumerate(order)}}
        form = (tuple(tuple(sorted(label[j] for j in by_node[node])) for node in order),
                tuple(sorted(label[j] for j in graph.output)))
        best = form if best is None or form < best else best
    assert best is not None  # a DAG has at least one topological order
    nodes, output = best
    parts = [f"{k + 1}<{','.join(map(str, ins))}" for k, ins in enumerate(nodes)]
    return " ".join([*parts, f"out<{','.join(map(str, output))}"])


def genome_key(phases: tuple[Bits, ...]) -> str:
    """Canonical key of a genome: the keys of its active phases in order."""
    keys = [phase_key(bits) for bits in phases if decode_phase(bits) is not None]
    return " | ".join(keys) if keys else "empty"

