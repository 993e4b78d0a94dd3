"""Synthetic objective tables for testing search strategies, a tiny finite space, and a search loop.

The nb201 tables are deterministic functions of the canonical key (so equivalent cells share one
value, as real evaluations do): per-edge op preferences plus pairwise edge interactions plus
key-level noise -- structured enough that a neighbourhood-based search can exploit it, rugged
enough (many local optima) that it cannot walk straight to the optimum.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import numpy as np

from robnas.search.discrete.strategy import Strategy
from robnas.spaces import get_space
from robnas.spaces.base import SearchSpace
from robnas.spaces.nb201.arch import OPS_NB201
from robnas.spaces.nb201.index import arch_from_ops, canonical_key
from robnas.spaces.nb201.space import NB201Space

NB201_OPS = 5
NB201_EDGES = 6


@lru_cache(maxsize=1)
def nb201_representatives() -> dict[str, tuple[int, ...]]:
    """Canonical key -> the lexicographically smallest op vector of that class."""
    reps: dict[str, tuple[int, ...]] = {}
    for vec in itertools.product(range(NB201_OPS), repeat=NB201_EDGES):  # lexicographic: first is smallest
        # the parsed form skips string parsing: the same key as space.key, 15625 times faster to build
        reps.setdefault(canonical_key(arch_from_ops(tuple(OPS_NB201[o] for o in vec))), vec)
    return reps


def _rugged(reps: dict[str, tuple[int, ...]], seed: int, interaction: float, noise: float) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    unary = rng.normal(size=(NB201_EDGES, NB201_OPS))
    pair = rng.normal(size=(NB201_EDGES, NB201_EDGES, NB201_OPS, NB201_OPS)) * interaction
    keys = sorted(reps)
    jitter = dict(zip(keys, rng.uniform(-noise, noise, size=len(keys))))
    out = {}
    for key, v in reps.items():
        value = sum(unary[e, v[e]] for e in range(NB201_EDGES))
        value += sum(pair[a, b, v[a], v[b]] for a, b in itertools.combinations(range(NB201_EDGES), 2))
        out[key] = float(value + jitter[key])
    return out


class MemoNB201(NB201Space):
    """The real nb201 space with ``neighbours`` memoised: ``mutate`` lists all 24 neighbours (each
    parsed twice, ~2 ms) on every call, which would dominate these tests' time; results are equal."""

    @lru_cache(maxsize=None)  # noqa: B019 (one instance per test session)
    def neighbours(self, arch: str) -> list[str]:
        return super().neighbours(arch)


class Table:
    """Objective name -> value per canonical key, looked up by arch string."""

    def __init__(self, space: SearchSpace, columns: dict[str, dict[str, float]]) -> None:
        self.space = space
        self.columns = columns
        self.objectives = list(columns)

    def metrics(self, arch: str) -> dict[str, float]:
        key = self.space.key(arch)
        return {name: col[key] for name, col in self.columns.items()}

    def points(self) -> np.ndarray:
        keys = sorted(next(iter(self.columns.values())))
        return np.array([[self.columns[o][k] for o in self.objectives] for k in keys])

    def optimum(self, objective: str) -> float:
        return min(self.columns[objective].values())


@lru_cache(maxsize=None)
def nb201_table(n_objectives: int = 1, seed: int = 0) -> Table:
    """1-3 objectives: a rugged error, a conv-count cost that conflicts with it, a second error."""
    reps = nb201_representatives()
    error = _rugged(reps, seed, interaction=1.0, noise=2.0)
    convs = {k: sum(1.0 if op == 2 else 3.0 if op == 3 else 0.0 for op in v) for k, v in reps.items()}
    columns = {"error": {k: error[k] - 0.5 * convs[k] for k in reps}}
    if n_objectives >= 2:
        columns["cost"] = {k: convs[k] + 0.05 * sum(v) for k, v in reps.items()}
    if n_objectives >= 3:
        second = _rugged(reps, seed + 1, interaction=1.0, noise=2.0)
        columns["robust_error"] = {k: 0.5 * columns["error"][k] + second[k] for k in reps}
    return Table(_memo_space(), columns)


@lru_cache(maxsize=1)
def _memo_space() -> MemoNB201:
    assert type(get_space("nb201")) is NB201Space  # the registered space is the one memoised here
    return MemoNB201()


class TinySpace(SearchSpace):
    """Three genes in {0, 1, 2}; the key ignores gene order: 27 strings, 10 keys (not registered)."""

    name: ClassVar[str] = "tiny-test"

    def sample(self, rng: random.Random) -> str:
        return "-".join(str(rng.randrange(3)) for _ in range(3))

    def neighbours(self, arch: str) -> list[str]:
        genes = self.to_vector(arch).tolist()
        out = []
        for i in range(3):
            for g in range(3):
                if g != genes[i]:
                    out.append("-".join(map(str, genes[:i] + [g] + genes[i + 1:])))
        return out

    def validate(self, arch: str) -> str:
        return arch

    def key(self, arch: str) -> str:
        return "".join(sorted(arch.split("-")))

    def size(self) -> int:
        return 27

    def encode(self, arch: str) -> np.ndarray:
        return np.eye(3)[self.to_vector(arch)].reshape(-1)

    def to_vector(self, arch: str) -> np.ndarray:
        return np.array([int(g) for g in arch.split("-")], dtype=np.int64)

    def from_vector(self, vec: Sequence[int] | np.ndarray) -> str:
        return "-".join(str(int(g)) for g in self.check_vector(vec))

    def draw_cell(self, arch: str, path: str | Path) -> Path:
        raise NotImplementedError("the strategy tests' space has no network and nothing to draw")

    def vector_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(3, dtype=np.int64), np.full(3, 2, dtype=np.int64)


TINY_KEYS = 10


def tiny_metrics(arch: str) -> dict[str, float]:
    genes = [int(g) for g in arch.split("-")]
    return {"error": float(sum(genes) + 0.1 * max(genes)), "cost": float(6 - sum(genes)) + 0.3 * genes.count(1)}


def drive(strategy: Strategy, metrics, budget: int) -> list[str]:
    """Ask / evaluate / tell until ``budget`` evaluations or ``finished``; the evaluated archs in order."""
    evaluated: list[str] = []
    while len(evaluated) < budget and not strategy.finished:
        batch = strategy.ask()
        for arch in batch:
            strategy.tell(arch, metrics(arch))
        evaluated.extend(batch)
    return evaluated[:budget]


def best_found(table: Table, archs: list[str], objective: str = "error") -> float:
    return min(table.metrics(a)[objective] for a in archs)
