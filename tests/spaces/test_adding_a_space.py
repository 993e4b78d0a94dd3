"""Adding a search space is one module: a toy space defined, registered and searched here, nothing edited elsewhere.

The space (``chain``): a cell of two edges in sequence, input -> node -> output, each edge one of
three operations. Its network is a real (tiny) CNN; ``skip`` is the identity, so ``conv-skip`` and
``skip-conv`` are the same network and share a key (9 architectures, 7 keys). Everything robnas
does with a space -- the discrete strategies, the results database and its tabular mode, training
candidates, ``build`` with its ``spec``, ``model_from_spec``, ``cells.png`` -- works from this
definition alone. When this module is collected before ``test_space_contract.py`` (as in a run of
``tests/spaces``), the generic space contract runs on ``chain`` too.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from robnas.errors import ParseError
from robnas.spaces import SearchSpace, get_space, register_space
from robnas.spaces.drawing import INPUT_COLOR, NODE_COLOR, OUTPUT_COLOR, draw_edge, draw_node, fit_axes
from robnas.store.figures import pyplot, save_figure

# --- the space: everything below up to the tests is what a new space needs -------------------------

OPS = ("conv", "pool", "skip")


def parse_chain(arch: str) -> tuple[str, ...]:
    """``"conv-pool"`` -> ``("conv", "pool")``; anything else is a one-line ParseError."""
    ops = tuple(arch.strip().split("-")) if isinstance(arch, str) else ()
    if len(ops) != 2 or any(op not in OPS for op in ops):
        raise ParseError(f"malformed chain arch {arch!r}: expected two ops joined by '-', each one of "
                         f"{', '.join(OPS)} (e.g. conv-pool)")
    return ops


def _op(name: str, C: int) -> nn.Module:
    if name == "conv":
        return nn.Sequential(nn.Conv2d(C, C, 3, padding=1, bias=False), nn.BatchNorm2d(C), nn.ReLU())
    return nn.AvgPool2d(3, stride=1, padding=1) if name == "pool" else nn.Identity()


class ChainNetwork(nn.Module):
    """Stem conv3x3 to ``C`` channels, the two edges in sequence, global average pooling, linear."""

    def __init__(self, ops: Sequence[str], C: int, num_classes: int, in_channels: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C), nn.ReLU())
        self.cell = nn.Sequential(*(_op(op, C) for op in ops))
        self.classifier = nn.Linear(C, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.cell(self.stem(x)).mean(dim=(2, 3)))


def chain_network(num_classes: int, in_channels: int, arch: str, C: int = 8) -> nn.Module:
    """The network factory: ``(num_classes, in_channels)``, the architecture kwarg, then size kwargs."""
    return ChainNetwork(parse_chain(arch), C, num_classes, in_channels)


@register_space("chain")
class ChainSpace(SearchSpace):
    """Two edges in sequence, each conv, pool or skip: 9 architectures, 7 distinct networks."""

    arch_kwarg = "arch"        # the factory kwarg that carries the architecture string
    network = chain_network
    tiny_size = {"C": 4}       # kwargs of a very small network, for tests

    def sample(self, rng: random.Random) -> str:
        return "-".join(rng.choice(OPS) for _ in range(2))

    def neighbours(self, arch: str) -> list[str]:
        ops = parse_chain(arch)
        return ["-".join((*ops[:i], op, *ops[i + 1:])) for i in range(2) for op in OPS if op != ops[i]]

    def validate(self, arch: str) -> str:
        return "-".join(parse_chain(arch))

    def key(self, arch: str) -> str:
        # skip is the identity: conv-skip and skip-conv build the same network
        return "-".join(op for op in parse_chain(arch) if op != "skip") or "identity"

    def size(self) -> int:
        return len(OPS) ** 2

    def encode(self, arch: str) -> np.ndarray:
        return np.eye(len(OPS), dtype=np.float32)[self.to_vector(arch)].reshape(-1)

    def to_vector(self, arch: str) -> np.ndarray:
        return np.array([OPS.index(op) for op in parse_chain(arch)], dtype=np.int64)

    def from_vector(self, vec: Sequence[int] | np.ndarray) -> str:
        return "-".join(OPS[g] for g in self.check_vector(vec))

    def vector_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(2, dtype=np.int64), np.full(2, len(OPS) - 1, dtype=np.int64)

    def draw_cell(self, arch: str, path: str | Path) -> Path:
        ops = parse_chain(arch)
        fig, ax = pyplot().subplots(figsize=(5, 1.6))
        points = [(0.0, 0.0), (2.0, 0.0), (4.0, 0.0)]
        for i, op in enumerate(ops):
            draw_edge(ax, points[i], points[i + 1], op, rad=0.0)
        for xy, label, color in zip(points, ("in", "1", "out"), (INPUT_COLOR, NODE_COLOR, OUTPUT_COLOR)):
            draw_node(ax, xy, label, color)
        fit_axes(ax, points)
        return save_figure(fig, path)


# --- the tests ------------------------------------------------------------------------------------

import json  # noqa: E402

import pytest  # noqa: E402

from robnas.errors import UnknownNameError  # noqa: E402
from robnas.models import model_from_spec  # noqa: E402
from robnas.store.results_db import ResultsDB  # noqa: E402
from tests.pipeline.conftest import cli  # noqa: E402, F401  (a fixture: `robnas` in this process)

ALL_ARCHS = [f"{a}-{b}" for a in OPS for b in OPS]


def test_the_space_is_registered_and_moves_through_its_architectures():
    space = get_space("chain")
    assert isinstance(space, ChainSpace) and ChainSpace.name == "chain"
    assert sorted({space.sample(random.Random(s)) for s in range(200)}) == sorted(ALL_ARCHS)
    assert len({space.key(a) for a in ALL_ARCHS}) == 7 and space.key("conv-skip") == space.key("skip-conv")
    assert space.neighbours("conv-pool") == ["pool-pool", "skip-pool", "conv-conv", "conv-skip"]
    child = space.mutate("conv-skip", random.Random(0))
    assert child in space.neighbours("conv-skip") and space.key(child) != space.key("conv-skip")
    assert all(space.from_vector(space.to_vector(a)) == a for a in ALL_ARCHS)
    assert space.validate(space.example()) == space.example()
    with pytest.raises(ParseError, match="chain arch"):
        space.validate("conv")


def test_build_gives_a_trainable_network_whose_spec_rebuilds_it(tmp_path):
    space = get_space("chain")
    torch.manual_seed(0)
    model = space.build("conv-pool", num_classes=3, in_channels=1, mean=[0.5], std=[0.25], C=4)
    assert model.spec == {"name": "chain", "num_classes": 3, "in_channels": 1, "mean": [0.5], "std": [0.25],
                          "kwargs": {"arch": "conv-pool", "C": 4}}
    torch.manual_seed(0)
    rebuilt = model_from_spec(json.loads(json.dumps(model.spec)))  # as a checkpoint stores it
    assert rebuilt.spec == model.spec
    assert all(torch.equal(v, rebuilt.state_dict()[k]) for k, v in model.state_dict().items())
    x, y = torch.rand(8, 1, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in model.parameters())
    assert space.draw_cell("skip-conv", tmp_path / "cells.png").read_bytes()[:4] == b"\x89PNG"
    assert not space.has_supernet
    with pytest.raises(UnknownNameError, match="'chain' has no supernet"):
        space.supernet(num_classes=3, in_channels=1, mean=None, std=None, C=4, layers=1)


def test_tabular_search_over_the_new_space(cli, tmp_path):
    """Random search answered by a benchmark over the new space (tabular mode): every key, once."""
    from robnas.bench.store import ArchResult, BenchmarkFile

    space = get_space("chain")
    keys = sorted({space.key(a) for a in ALL_ARCHS})
    accuracy = {key: 0.9 - 0.01 * i for i, key in enumerate(keys)}
    table = tmp_path / "chain.sqlite"
    with BenchmarkFile(table, readonly=False) as bench:
        bench.set_meta({"space": "chain", "dataset": "digits", "axes": {"clean": {"kind": "clean", "axis": []}}})
        bench.add_many(ArchResult(key=k, arch=next(a for a in ALL_ARCHS if space.key(a) == k),
                                  measures={("clean", "accuracy"): accuracy[k]}) for k in keys)
    cli("search", "--method", "rs", "--space", "chain", "--dataset", "digits", "--objectives", "clean_error",
        "--evaluations", "7", "--set", f"search.discrete.table={table}", "--name", "t", "--quiet", check=True)
    results = tmp_path / "runs" / "t" / "results"
    with ResultsDB(tmp_path / "runs" / "t" / "results.db") as db:
        searched = db.records()
    assert sorted(r.key for r in searched) == keys  # never an equivalent architecture twice
    assert all(r.metrics["clean_error"] == pytest.approx(100 * (1 - accuracy[r.key])) for r in searched)
    best = json.loads((results / "best.json").read_text())["architectures"][0]
    assert best["key"] == keys[0] and best["metrics"]["clean_error"] == pytest.approx(10.0)


def test_training_search_over_the_new_space(cli, tmp_path):
    """Candidates are built by the space, trained and scored in this process (the inprocess backend)."""
    cli("search", "--method", "rs", "--space", "chain", "--dataset", "digits", "--train-size", "150",
        "--test-size", "60", "--epochs", "1", "--batch-size", "50", "--backend", "inprocess", "--quiet",
        "--objectives", "clean_error", "--evaluations", "2", "--set", "search.discrete.build={C=4}",
        "--name", "s", check=True)
    with ResultsDB(tmp_path / "runs" / "s" / "results.db") as db:
        rows = db.records()
    assert len(rows) == 2 and all(r.status == "done" and r.space == "chain" for r in rows)
    assert all(0.0 <= r.metrics["clean_error"] <= 100.0 for r in rows)
