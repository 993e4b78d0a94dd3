"""AutoAttack ``rand`` (APGD-CE -> APGD-DLR with EOT) and APGD's expectation over transformation.

Oracle (test-only): ``pyautoattack`` 0.2.0, the original AutoAttack code: ``APGDAttack(eot_iter=k)``
replayed step by step on a randomised model whose random draws repeat by call count, and
``AutoAttack(version="rand")`` on a model with dropout active at test time.
"""

from __future__ import annotations

import contextlib
import io

import pytest
import torch
import torch.nn.functional as F
from pyautoattack import AutoAttack as ReferenceAutoAttack
from pyautoattack.autopgd_base import APGDAttack
from torch import nn

from robnas.attacks import create_attack
from robnas.data import Split
from robnas.errors import InvalidValueError
from robnas.evaluation import Protocol, ThreatModel, evaluate
from tests.attacks.conftest import seeded_and_trained


class ReplayedDropout(nn.Module):
    """Randomised but replayable: call ``k`` multiplies the features by mask ``k mod len(masks)``."""

    def __init__(self, masks: torch.Tensor) -> None:
        super().__init__()
        self.masks = masks
        self.calls = 0

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        mask = self.masks[self.calls % len(self.masks)]
        self.calls += 1
        return h * mask


class DropoutAtTest(nn.Module):
    """Dropout that stays on in eval mode (a randomised defence)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.dropout(h, self.p, training=True)


def test_eot_gradient_is_the_mean_over_passes_as_the_official_apgd(trained_mlp, batch):
    x, y = batch
    masks = (torch.rand(7, 64, generator=torch.Generator().manual_seed(3)) > 0.3).float() / 0.7
    dropout = ReplayedDropout(masks)
    model = nn.Sequential(*trained_mlp[:3], dropout, trained_mlp[3])
    eps, steps = 0.1, 10
    start = (x + eps * (2 * torch.rand(x.shape, generator=torch.Generator().manual_seed(5)) - 1)).clamp(0, 1)
    points = {}
    for eot in (1, 3):
        oracle = APGDAttack(model, n_iter=steps, norm="Linf", eps=eps, loss="ce", eot_iter=eot, device="cpu")
        oracle.init_hyperparam(x)
        dropout.calls = 0
        with torch.random.fork_rng():
            x_best, *_ = oracle.attack_single_run(x, y, start)
        dropout.calls = 0  # the same draws, in the same order, for robnas
        res = create_attack("apgd-ce", eps=eps, steps=steps, restarts=1, eot_iter=eot,
                            early_stop=False).run(model, x, y, x_init=start)
        assert res.queries == x.shape[0] * eot * (steps + 1)  # every EOT pass is a query
        assert (res.x_adv - x_best).abs().max().item() <= 1e-5, eot
        points[eot] = res.x_adv
    assert (points[1] - points[3]).abs().max().item() > 1e-2  # the averaging changes the path


def test_rand_version_matches_pyautoattack_on_a_dropout_model(digits):
    model = seeded_and_trained(lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), DropoutAtTest(0.1),
                                                     nn.Linear(64, 10)), digits, epochs=15, seed=1)
    x = torch.cat([digits.x_test, digits.x_train])[:300]
    y = torch.cat([digits.y_test, digits.y_train])[:300]
    eps = 0.1
    with torch.random.fork_rng():
        torch.manual_seed(0)  # the model's dropout draws from the global RNG
        ours = create_attack("autoattack-rand", eps=eps, seed=0).run(model, x, y)
        single_draw = create_attack("apgd-ce", eps=eps, restarts=1, seed=0).run(model, x, y)
        reference = ReferenceAutoAttack(model, eps=eps, norm="Linf", version="rand", seed=0)
        with contextlib.redirect_stdout(io.StringIO()):
            _, y_ref = reference.run_standard_evaluation(x, y, batch_size=300)
    reference_accuracy = (y_ref == y).float().mean().item()
    # measured over global seeds 0-5: ours 46.0 +- 0.9%, the official code 46.3 +- 0.7% (mean +- std)
    assert abs(ours.robust_accuracy - reference_accuracy) <= 0.03
    assert [m for m, _ in ours.report().cumulative] == ["apgd-ce", "apgd-dlr"]
    assert ours.queries > 2 * 20 * 100 * ours.report().robust[-1]  # 20 EOT passes per step, both members
    # Without EOT and the fresh-draw verdict, one lucky misclassified draw counts as a break (measured: 13.7%).
    assert single_draw.robust_accuracy < reference_accuracy - 0.2


def test_rand_version_agrees_with_pyautoattack_on_a_deterministic_model(trained_mlp, digits):
    x = torch.cat([digits.x_test, digits.x_train])[:500]
    y = torch.cat([digits.y_test, digits.y_train])[:500]
    ours = create_attack("autoattack", version="rand", eps=0.1, eot_iter=2, seed=0).run(trained_mlp, x, y)
    reference = ReferenceAutoAttack(trained_mlp, eps=0.1, norm="Linf", version="rand", seed=0)
    reference.apgd.eot_iter = 2
    with torch.random.fork_rng(), contextlib.redirect_stdout(io.StringIO()):
        _, y_ref = reference.run_standard_evaluation(x, y, batch_size=500)
    # different random starts only: equal or within a few points of 500 (measured: 54.0% both, 20 passes)
    assert abs(ours.robust_accuracy - (y_ref == y).float().mean().item()) <= 0.01


def test_rand_settings_and_bad_parameters():
    rand = create_attack("autoattack-rand", eps=0.5, norm="L2")
    assert (rand.version, rand.members, rand.eot_iter) == ("rand", ("apgd-ce", "apgd-dlr"), 20)
    apgd_ce, apgd_dlr = rand.member_attacks()
    for member, name in ((apgd_ce, "apgd-ce"), (apgd_dlr, "apgd-dlr")):
        assert (member.name, member.steps, member.restarts, member.eot_iter, member.eps, member.norm) == (
            name, 100, 1, 20, 0.5, "L2")
    assert create_attack("autoattack", version="rand").eot_iter == 20
    assert create_attack("autoattack").eot_iter == 1
    for name, params, message in [("autoattack", {"eot_iter": 5}, "eot_iter applies to version 'rand' only"),
                                  ("autoattack-rand", {"eot_iter": 0}, "eot_iter"),
                                  ("apgd-ce", {"eot_iter": 0}, "eot_iter"),
                                  ("autoattack", {"version": "plus"}, "supported: standard")]:
        with pytest.raises(InvalidValueError, match=message) as info:
            create_attack(name, **params)
        assert "\n" not in str(info.value)


def test_evaluation_of_a_randomised_model_points_to_the_rand_version(digits):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10), DropoutAtTest(0.5))
        split = Split((digits.x_test[:40] * 255).round().to(torch.uint8), digits.y_test[:40])
        tm = ThreatModel("autoattack-rand", "Linf", ("8/255",), {"steps": 3, "eot_iter": 2})
        record = evaluate(model, split, Protocol("rand", (tm,)), 10, quiet=True)
    run = next(iter(record.threat_models["autoattack-rand"].by_eps.values()))
    assert list(run.cumulative) == ["apgd-ce", "apgd-dlr"]
    flag = next(f for f in record.reliability if f.name == "randomized_forward")
    assert "--attacks autoattack-rand" in flag.message
