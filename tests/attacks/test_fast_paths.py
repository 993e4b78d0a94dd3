"""The faster evaluation paths change no attack's per-point outcome on real networks.

"Before" is the path as it was: lockstep rounds differentiating the model itself with its parameters
requiring gradients, plain forwards through the frozen TorchScript graph, Square querying every
proposal. "After" is today's: a frozen channels-last copy for gradients, ONNX Runtime (when installed)
for plain forwards, Square skipping proposals equal to the best point. Every registered attack, at
a radius where it breaks some points and not others, on a trained CNN with batch norm and on a
trained NAS-Bench-201 network, must break the same points and predict the same classes there.
"""

from __future__ import annotations

import tempfile
from contextlib import nullcontext

import pytest
import torch
from torch import nn

import robnas.attacks.lockstep as lockstep_module
import robnas.attacks.square as square_module
from robnas.attacks import create_attack
from robnas.attacks.base import Attack
from robnas.attacks.gradient import forward
from robnas.attacks.lockstep import run_in_lockstep
from robnas.nn import inference

# (attack, params, Linf or L2 radius): budgets cut for the test's time, radii where outcomes are mixed.
CASES = [
    ("fgsm", {}, 0.1), ("ffgsm", {}, 0.1), ("rfgsm", {}, 0.1), ("bim", {"steps": 5}, 0.1),
    ("pgd", {"steps": 5, "alpha": 0.025}, 0.1), ("pgd", {"steps": 5, "norm": "L2"}, 1.0), ("mifgsm", {"steps": 5}, 0.1),
    ("apgd-ce", {"steps": 10, "restarts": 1}, 0.1), ("apgd-dlr", {"steps": 10}, 0.1),
    ("apgd-t", {"steps": 5, "n_target_classes": 3}, 0.1), ("fab-t", {"steps": 5, "n_target_classes": 2}, 0.1),
    ("square", {"queries": 150}, 0.15), ("square", {"queries": 100, "norm": "L2"}, 0.8),
    ("deepfool", {"steps": 10}, 0.1), ("cw", {"steps": 20}, 1.0),
    ("autoattack", {"steps": 5, "n_target_classes": 2, "queries": 50}, 0.1),
    ("pgd-l0", {"steps": 5, "norm": "L0"}, 1), ("onepixel", {"norm": "L0", "population": 40, "generations": 5}, 1),
    ("clean", {}, 0.1),
]


def _before(monkeypatch: pytest.MonkeyPatch) -> None:
    """The paths as they were before the faster ones."""
    monkeypatch.setattr(lockstep_module, "gradient_model", lambda model: model)
    monkeypatch.setattr(lockstep_module, "frozen_parameters", lambda model: nullcontext())
    monkeypatch.setattr("robnas.attacks.base.frozen_parameters", lambda model: nullcontext())
    monkeypatch.setattr(inference, "choose", lambda images, runtime_installed=None: ["frozen"])
    monkeypatch.setattr(square_module, "_candidate_logits", lambda model, c, s, counter: forward(model, c, counter))


def _run(model: nn.Module, name: str, params: dict, eps: float, x: torch.Tensor, y: torch.Tensor) -> tuple:
    attack: Attack = create_attack(name, eps=eps, seed=3, **params)
    fast = inference.inference_forward(model, x)
    result = run_in_lockstep(model, [lambda m: attack.run(m, x, y)], fast)[0]
    return result.success.clone(), result.logits.argmax(1).clone()


@pytest.fixture(scope="module")
def trained_nb201(digits) -> nn.Module:
    from robnas.data.split import Split
    from robnas.spaces import get_space
    from robnas.store.run_dir import RunDir
    from robnas.train import train_model
    from robnas.train.recipes import get_recipe

    arch = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    recipe = get_recipe("digits-tiny", {"train": {"epochs": 3}})
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = get_space("nb201").build(arch, num_classes=10, in_channels=1, **recipe.build)
    train_split = Split((digits.x_train[:600] * 255).round().to(torch.uint8), digits.y_train[:600])
    val_split = Split((digits.x_test[:100] * 255).round().to(torch.uint8), digits.y_test[:100])
    with tempfile.TemporaryDirectory() as tmp:
        train_model(model, train_split, val_split, recipe.train, RunDir(tmp, quiet=True), seed=0, quiet=True,
                    checkpoints=False)
    return model.eval()


@pytest.mark.parametrize("network", ["trained_cnn", "trained_nb201"])
@pytest.mark.parametrize("name, params, eps", CASES, ids=[f"{c[0]}-{c[1].get('norm', 'Linf')}" for c in CASES])
def test_every_attack_breaks_the_same_points(request, monkeypatch, digits, network, name, params, eps):
    model = request.getfixturevalue(network)
    x, y = digits.x_test[:48], digits.y_test[:48]
    before_params = [p.detach().clone() for p in model.parameters()]
    after = _run(model, name, params, eps, x, y)
    with monkeypatch.context() as patch:
        _before(patch)
        before = _run(model, name, params, eps, x, y)
    assert torch.equal(after[0], before[0]), f"{name}: points broken differ"
    assert torch.equal(after[1], before[1]), f"{name}: predictions at the adversarial points differ"
    # The caller's model is left as it was: same weights, layout and gradient flags.
    for p, q in zip(model.parameters(), before_params):
        assert torch.equal(p, q) and p.is_contiguous() and p.requires_grad


def test_square_skips_only_proposals_equal_to_the_best_point(trained_cnn, digits, monkeypatch):
    x, y = digits.x_test[:40], digits.y_test[:40]
    attack = create_attack("square", eps=0.15, queries=300, seed=1)
    skipping = attack.run(trained_cnn, x, y)
    with monkeypatch.context() as patch:
        patch.setattr(square_module, "_candidate_logits", lambda model, c, s, counter: forward(model, c, counter))
        querying = attack.run(trained_cnn, x, y)
    assert torch.equal(skipping.x_adv, querying.x_adv) and torch.equal(skipping.success, querying.success)
    assert torch.allclose(skipping.logits, querying.logits, rtol=1e-5, atol=1e-6)
    assert skipping.queries < querying.queries  # the skipped proposals are not counted as model evaluations
