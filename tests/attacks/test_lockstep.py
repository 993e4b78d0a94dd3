"""Attacks run in lockstep (one batched model call per round) give each cell exactly its lone result."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robnas.attacks import create_attack
from robnas.attacks.evaluate import evaluate_attack
from robnas.attacks.lockstep import Lockstep, run_in_lockstep
from robnas.nn.inference import inference_forward

# Every attack of the Jung grid, and a composite whose members query through the same stand-in.
CELLS = [("fgsm", {}, 1 / 255), ("fgsm", {}, 8 / 255), ("fgsm", {}, 64 / 255),
         ("pgd", {"steps": 5, "alpha": 2 / 255}, 4 / 255), ("pgd", {"steps": 5, "alpha": 8 / 255}, 32 / 255),
         ("apgd-ce", {"steps": 10, "restarts": 1}, 4 / 255), ("apgd-ce", {"steps": 10, "restarts": 2}, 32 / 255),
         ("square", {"queries": 60}, 4 / 255), ("square", {"queries": 60}, 32 / 255),
         ("autoattack", {"steps": 4, "n_target_classes": 2, "queries": 10}, 16 / 255)]


def jobs(x, y, seed=3):
    def job(name, params, eps):
        return lambda model: evaluate_attack(model, create_attack(name, eps=eps, seed=seed, **params), x, y,
                                             batch_size=32)
    return [job(*cell) for cell in CELLS]


class Counting(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.calls = inner, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.inner(x)


@pytest.mark.parametrize("fixture", ["trained_mlp", "trained_cnn"])
def test_every_cell_equals_its_lone_run(fixture, digits, request):
    model = request.getfixturevalue(fixture)
    x, y = digits.x_test[:70], digits.y_test[:70]
    calls = Counting(model)
    alone = [job(calls) for job in jobs(x, y)]
    lockstep = Lockstep(model)
    together = lockstep.run(jobs(x, y))
    assert lockstep.rounds < calls.calls / 2  # queries were really shared
    for (name, _, eps), a, b in zip(CELLS, alone, together):
        assert torch.equal(a.success, b.success), (name, eps)
        assert torch.equal(a.adv_pred, b.adv_pred), (name, eps)
        assert a.queries == b.queries, (name, eps)
        assert b.mean_confidence == pytest.approx(a.mean_confidence, rel=1e-5)
    assert len({round(r.accuracy, 4) for r in together}) > 3  # the grid spans weak to strong cells


def test_frozen_inference_changes_no_outcome(trained_cnn, digits):
    x, y = digits.x_test[:70], digits.y_test[:70]
    fast = inference_forward(trained_cnn, x)
    with torch.no_grad():
        assert torch.allclose(fast(x), trained_cnn(x), rtol=1e-4, atol=1e-5)
        assert fast(x[:0]).shape == (0, 10)  # empty batches fall back to the eager model
    plain = run_in_lockstep(trained_cnn, jobs(x, y))
    frozen = run_in_lockstep(trained_cnn, jobs(x, y), inference=fast)
    for a, b in zip(plain, frozen):
        assert torch.equal(a.success, b.success) and torch.equal(a.adv_pred, b.adv_pred)


class Untraceable(nn.Module):
    """Data-dependent control flow: tracing would bake in one branch, so the check must refuse it."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner(x)
        return out if x.shape[0] < 2 else out * 2.0


def test_inference_falls_back_to_the_model_when_the_frozen_graph_differs(trained_mlp, digits):
    model = Untraceable(trained_mlp).eval()
    x = digits.x_test[:50]
    fast = inference_forward(model, x)
    with torch.no_grad():
        assert torch.equal(fast(x), model(x))
    training = inference_forward(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).train(), x)
    assert training.__qualname__.startswith("_no_grad")  # a model in training mode is never frozen


class Boom(Exception):
    pass


def test_a_failing_attack_neither_hangs_the_others_nor_is_lost(trained_mlp, digits):
    x, y = digits.x_test[:40], digits.y_test[:40]

    def fail(model):
        create_attack("pgd", eps=4 / 255, steps=2).run(model, x, y)
        raise Boom("stop")

    with pytest.raises(Boom):
        run_in_lockstep(trained_mlp, [*jobs(x, y)[:4], fail, *jobs(x, y)[4:6]])


def test_a_failing_round_reaches_every_attack(digits):
    class Broken(nn.Module):
        def forward(self, x):
            raise Boom("model failed")

    x, y = digits.x_test[:10], digits.y_test[:10]
    with pytest.raises(Boom):
        run_in_lockstep(Broken(), jobs(x, y)[:3])


def test_a_randomised_model_gets_the_same_draws_in_every_run(digits):
    """Dropout at test time draws from the global stream: rounds batch in job order, never arrival order."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    model.eval()
    noisy = nn.Sequential(model, nn.Dropout(0.3))
    noisy[1].train()  # stays on: a randomised forward

    class KeepDropout(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = noisy

        def forward(self, x):
            noisy[1].train()
            return self.net(x)

    x, y = digits.x_test[:30], digits.y_test[:30]
    runs = []
    for _ in range(2):
        torch.manual_seed(5)
        runs.append([r.success for r in run_in_lockstep(KeepDropout(), jobs(x, y)[:6])])
    for a, b in zip(*runs):
        assert torch.equal(a, b)
