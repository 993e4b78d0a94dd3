"""NAS-Bench-201 ids and cell equivalence, interoperable with NAS-Bench-201 and the robustness dataset.

Ids: NAS-Bench-201 enumerates the 5^6 = 15625 cells with node 1's edge as the outermost loop and,
within each node, the edge from the highest input varying fastest (a lexicographic product over
the six edges, ops in the order of ``OPS_NB201``), then shuffles the list with Python's
``random.seed(88)``. ``random.Random(88).shuffle`` reproduces that permutation exactly, so
``index_of(arch)`` is the id other datasets key their results by.

Equivalence: NAS-Bench-201's canonical string describes what the cell computes. Node 0 is
``"0"``; an edge ``(op, j)`` into a node contributes ``#`` when ``op`` is ``none`` or node ``j`` is
``#`` (nothing flows), node ``j``'s own string for ``skip_connect``, and ``(node_j)@op``
otherwise; a node's string is its terms sorted and joined by ``+``, and the output node's string
is the cell's key. It splits the space into exactly 6466 classes; the robustness dataset
evaluates the lowest id of each class and maps every id to it.
"""

from __future__ import annotations

import itertools
import random
from functools import lru_cache

from robnas.errors import InvalidValueError, UnknownNameError
from robnas.spaces.nb201.arch import OPS_NB201, Arch, arch_to_str, parse_arch

NUM_ARCHS = len(OPS_NB201) ** 6
NUM_CLASSES = 6466
_SHUFFLE_SEED = 88


def arch_from_ops(ops: tuple[str, ...]) -> Arch:
    """Six ops in edge order (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2) -> nodes."""
    return ((ops[0], 0),), ((ops[1], 0), (ops[2], 1)), ((ops[3], 0), (ops[4], 1), (ops[5], 2))


@lru_cache(maxsize=1)
def all_archs() -> tuple[str, ...]:
    """Every arch string, position = NAS-Bench-201 id."""
    archs = [arch_to_str(arch_from_ops(ops)) for ops in itertools.product(OPS_NB201, repeat=6)]
    random.Random(_SHUFFLE_SEED).shuffle(archs)
    return tuple(archs)


@lru_cache(maxsize=1)
def _ids() -> dict[str, int]:
    return {arch: i for i, arch in enumerate(all_archs())}


def arch_of(index: int) -> str:
    """The arch string of NAS-Bench-201 id ``index``."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < NUM_ARCHS:
        raise InvalidValueError(f"NAS-Bench-201 id must be an integer in 0..{NUM_ARCHS - 1}, got {index!r}")
    return all_archs()[index]


def index_of(arch: str) -> int:
    """The NAS-Bench-201 id of an arch string (parsed strictly first)."""
    canonical_text = arch_to_str(parse_arch(arch))
    try:
        return _ids()[canonical_text]
    except KeyError:  # unreachable for a parsed arch; kept so a bug cannot return a wrong id
        raise UnknownNameError(f"arch {arch!r} is not in NAS-Bench-201") from None


def canonical_key(arch: str | Arch) -> str:
    """NAS-Bench-201's canonical string: equal for cells that compute the same function."""
    return _key_of(parse_arch(arch) if isinstance(arch, str)
                   else tuple(tuple((op, int(j)) for op, j in node) for node in arch))


@lru_cache(maxsize=1 << 16)
def _key_of(nodes: Arch) -> str:
    # cached: a search computes the key of every proposal and of every neighbour it considers
    strings = ["0"]
    for edges in nodes:
        terms = []
        for op, j in edges:
            if op == "none" or strings[j] == "#":
                terms.append("#")
            elif op == "skip_connect":
                terms.append(strings[j])
            else:
                terms.append(f"({strings[j]})@{op}")
        strings.append("+".join(sorted(terms)))
    return strings[-1]


@lru_cache(maxsize=1)
def representatives() -> tuple[int, ...]:
    """For every id, the lowest id with the same canonical key (the one the robustness dataset evaluated)."""
    first: dict[str, int] = {}
    out = []
    for i, arch in enumerate(all_archs()):
        out.append(first.setdefault(canonical_key(arch), i))
    return tuple(out)


def representative_of(index: int) -> int:
    arch_of(index)  # validates the id
    return representatives()[index]


def unique_ids() -> list[int]:
    """The ids that represent their class (6466 of them), ascending."""
    return sorted(set(representatives()))
