"""The examples of docs/extending.md ("Extending robnas"): each is one file in examples/, quoted verbatim in
docs/extending.md, and works -- an attack, a search term and a strategy registered from one module each (the
space example is exercised by tests/spaces/test_adding_a_space.py)."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
FRONT_DOOR = ROOT / "examples" / "front_door.py"   # the README's Python example, not an extension
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if p != FRONT_DOOR)
EXTENDING = ROOT / "docs" / "extending.md"


def load(name: str):
    """Import an example module once (registering its component), as a plugin module would be."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_is_quoted_verbatim_in_the_extending_page(path):
    assert path.read_text().strip() in EXTENDING.read_text(), f"docs/extending.md does not quote {path.name} verbatim"


def test_the_attack_example_is_usable_by_name_in_a_protocol():
    load("attack_best_of_noise")
    from robnas.attacks import create_attack
    from robnas.data import load_dataset
    from robnas.evaluation import evaluate, threat_model
    from robnas.evaluation.protocol import Protocol
    from robnas.models import create_model

    data = load_dataset("digits", test_size=30)
    torch.manual_seed(0)
    model = create_model("resnet18", num_classes=10, in_channels=1, width=2).eval()
    attack = create_attack("noise-k", eps=16 / 255, k=3)
    x = data.test.float_images()
    x_adv = attack(model, x, data.test.labels)
    assert (x_adv - x).abs().max() <= 16 / 255 + 1e-6 and 0 <= x_adv.min() and x_adv.max() <= 1
    protocol = Protocol("noise", (threat_model("noise-k", ("16/255",), k=3), threat_model("pgd", ("16/255",))))
    record = evaluate(model, data.test, protocol, 10)
    assert record.threat_models["noise-k"].title == "Noise-k"
    assert record.threat_models["noise-k"].by_eps[protocol.threat_models[0].radii[0]].accuracy >= \
        record.worst_case["Linf"][protocol.threat_models[0].radii[0]]


def test_the_term_example_runs_in_the_bilevel_loop():
    load("term_alpha_entropy")
    from robnas.search.differentiable import BilevelSearch, DifferentiableSearchConfig, StepInfo, create_term
    from robnas.spaces import get_space

    torch.manual_seed(0)
    net = get_space("nb201").supernet(num_classes=10, in_channels=1, mean=None, std=None, C=2, layers=1)
    term = create_term("alpha-entropy", {"weight": 1.0}, epochs=1)
    search = BilevelSearch(net, DifferentiableSearchConfig(epochs=1, batch_size=8), [term])
    x, y = torch.rand(8, 1, 8, 8), torch.randint(0, 10, (8,))
    metrics = search.step(x, y, x, y, StepInfo(epoch=0, epochs=1, step=0, steps=1, seed=0))
    assert metrics["alpha-entropy"] > 0
    with pytest.raises(Exception, match="weight"):
        create_term("alpha-entropy", {"weight": -1.0})


def test_the_strategy_example_beats_random_search_on_a_structured_table():
    load("strategy_hill_climbing")
    from robnas.search.discrete import create_strategy
    from tests.search.discrete.tables import best_found, drive, nb201_table

    table = nb201_table(2)
    gaps = []
    for seed in range(6):
        hc = drive(create_strategy("hc", table.space, ["error"], seed), table.metrics, 120)
        rs = drive(create_strategy("rs", table.space, ["error"], seed), table.metrics, 120)
        gaps.append(best_found(table, rs) - best_found(table, hc))
    assert sum(gaps) > 0


def test_the_readme_python_example_uses_only_the_front_door_and_runs():
    """README.md quotes examples/front_door.py verbatim; it imports nothing but ``robnas`` and runs."""
    import subprocess

    text = FRONT_DOOR.read_text()
    assert text.strip() in (ROOT / "README.md").read_text()
    assert [line for line in text.splitlines() if "import" in line and not line.startswith("#")] == ["import robnas"]
    done = subprocess.run([sys.executable, str(FRONT_DOOR)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[2].startswith("('|")  # the search's best architecture and its objectives
