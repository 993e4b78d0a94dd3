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

import importlib.util
import sys
from pathlib import Path

# The space is the example module of docs/extending.md (examples/space_chain.py), imported as a plugin would be.
_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "space_chain.py"
if "space_chain" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("space_chain", _EXAMPLE)
    sys.modules["space_chain"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["space_chain"])
from space_chain import OPS, ChainSpace, parse_chain  # noqa: E402

import json  # noqa: E402
import random  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from robnas.errors import ParseError, UnknownNameError  # noqa: E402
from robnas.models import model_from_spec  # noqa: E402
from robnas.spaces import get_space  # noqa: E402
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
