"""The AutoAttack composite (``standard``: APGD-CE -> APGD-T -> FAB-T -> Square).

Oracle (test-only): ``pyautoattack.AutoAttack(version="standard")`` 0.2.0, the original code. The
oracle comparison keeps the standard settings of every member except Square's budget, cut from
5000 to 500 queries on *both* sides (``aa.square.n_queries = 500`` there, ``queries=500`` here) to
fit the test budget; on this model Square breaks no point the gradient members left (measured with
5000 queries too: 53.4% on both sides).
"""

from __future__ import annotations

import contextlib
import io

import pytest
import torch
from pyautoattack import AutoAttack as ReferenceAutoAttack

from robnas.attacks import Attack, create_attack
from robnas.attacks.autoattack import CLEAN_WRONG, AutoAttackReport, AutoAttackResult
from robnas.attacks.evaluate import evaluate_attack
from robnas.attacks.threat import perturbation_norm
from robnas.errors import InvalidValueError
from robnas.evaluation.reliability import result_flags
from tests.evaluation.records import record_of

# Small budgets for the structural tests (the semantics do not depend on the budget).
SMALL = {"steps": 8, "n_target_classes": 3, "queries": 60}
CASES = [("Linf", 0.1), ("L2", 0.5)]  # digits 8x8: about half the points stay robust at these radii


def test_standard_matches_pyautoattack_on_500_points(trained_mlp, digits):
    x = torch.cat([digits.x_test, digits.x_train])[:500]
    y = torch.cat([digits.y_test, digits.y_train])[:500]
    eps = 0.1
    res = create_attack("autoattack", eps=eps, norm="Linf", queries=500, seed=0).run(trained_mlp, x, y)
    reference = ReferenceAutoAttack(trained_mlp, eps=eps, norm="Linf", version="standard", seed=0)
    reference.square.n_queries = 500
    with torch.random.fork_rng(), contextlib.redirect_stdout(io.StringIO()):
        x_ref, y_ref = reference.run_standard_evaluation(x, y, batch_size=500)
    reference_accuracy = (y_ref == y).float().mean().item()
    assert abs(res.robust_accuracy - reference_accuracy) <= 0.005  # measured: equal (53.4%), seeds 0 and 1
    report = res.report()
    assert 0.3 < report.robust_accuracy < 0.7
    robust = dict(report.cumulative)
    assert robust["apgd-ce"] > robust["apgd-t"]  # a second member matters here
    assert (perturbation_norm(x_ref - x, "Linf") <= eps + 1e-6).all()


class _Spy:
    """Records every member call (name, images, x_init, result) made inside the composite."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, torch.Tensor, torch.Tensor | None, object]] = []
        original = Attack.run

        def run(attack: Attack, model, x, y, x_init=None, generator=None):
            result = original(attack, model, x, y, x_init, generator)
            if attack.name != "autoattack":
                self.calls.append((attack.name, x.clone(), x_init, result))
            return result

        monkeypatch.setattr(Attack, "run", run)


@pytest.mark.parametrize("norm, eps", CASES)
def test_members_run_in_order_on_still_robust_clean_points(trained_mlp, batch, monkeypatch, norm, eps):
    x, y = batch
    spy = _Spy(monkeypatch)
    res = create_attack("autoattack", eps=eps, norm=norm, **SMALL).run(trained_mlp, x, y)
    assert isinstance(res, AutoAttackResult)
    assert [name for name, *_ in spy.calls] == ["apgd-ce", "apgd-t", "fab-t", "square"]
    with torch.no_grad():
        robust = (trained_mlp(x).argmax(1) == y).nonzero().flatten()
    queries = x.shape[0]  # the composite's clean forward
    for k, (name, x_member, x_init, member) in enumerate(spy.calls):
        # Each member starts from the clean images of exactly the points every earlier member left robust.
        assert x_init is None and torch.equal(x_member, x[robust]), name
        broken = robust[member.success]
        assert torch.equal(res.x_adv[broken], member.x_adv[member.success])  # the breaking member's image
        assert (res.broken_by[broken] == k).all() and res.success[broken].all()
        queries += member.queries
        robust = robust[~member.success]
    assert robust.numel() > 0 and not res.success[robust].any()
    assert (res.broken_by[robust] == len(spy.calls)).all()
    assert res.queries == queries
    # Point-wise worst case: a point survives the composite only if it survived every member it met.
    with torch.no_grad():
        wrong = trained_mlp(x).argmax(1) != y
    assert torch.equal(res.broken_by == CLEAN_WRONG, wrong)
    assert torch.equal(res.success, res.broken_by < len(spy.calls))


@pytest.mark.parametrize("norm, eps", CASES)
def test_cumulative_accuracy_threat_model_and_batches(trained_mlp, batch, norm, eps):
    x, y = batch
    attack = create_attack("autoattack", eps=eps, norm=norm, **SMALL)
    res = attack.run(trained_mlp, x, y)
    report = res.report()
    accuracies = [acc for _, acc in report.cumulative]
    assert [m for m, _ in report.cumulative] == ["apgd-ce", "apgd-t", "fab-t", "square"]
    assert report.clean_accuracy >= accuracies[0]
    assert all(a >= b for a, b in zip(accuracies, accuracies[1:]))
    assert accuracies[-1] == report.robust_accuracy == pytest.approx(res.robust_accuracy)
    assert res.x_adv.min() >= 0 and res.x_adv.max() <= 1
    assert (perturbation_norm(res.x_adv - x, norm) <= eps + 1e-6).all()
    # Over batches, evaluate_attack merges the per-point records into one report.
    evaluation = evaluate_attack(trained_mlp, attack, x, y, batch_size=50)
    assert isinstance(evaluation.report, AutoAttackReport) and evaluation.report.n == x.shape[0]
    assert evaluation.report.robust[-1] == int((~evaluation.success).sum())
    assert evaluation.report.clean == report.clean


def test_global_rng_untouched_and_member_streams_independent(trained_mlp, batch):
    x, y = batch
    rng = torch.get_rng_state()
    runs = [create_attack("autoattack", eps=0.1, seed=seed, **SMALL).run(trained_mlp, x, y) for seed in (3, 3, 4)]
    assert torch.equal(torch.get_rng_state(), rng)
    assert torch.equal(runs[0].x_adv, runs[1].x_adv)
    assert not torch.equal(runs[0].x_adv, runs[2].x_adv)


def test_versions_and_standard_settings():
    with pytest.raises(InvalidValueError, match="supported: standard .*; rand") as info:
        create_attack("autoattack", version="plus")
    assert "\n" not in str(info.value)
    attack = create_attack("autoattack", eps=0.5, norm="L2")
    apgd, apgd_t, fab_t, square = attack.member_attacks()
    assert (apgd.name, apgd.steps, apgd.restarts, apgd.eps, apgd.norm) == ("apgd-ce", 100, 1, 0.5, "L2")
    assert (apgd_t.steps, apgd_t.restarts, apgd_t.n_target_classes, apgd_t.rho) == (100, 1, 9, 0.75)
    assert (fab_t.steps, fab_t.restarts, fab_t.n_target_classes, fab_t.alpha_max, fab_t.eta, fab_t.beta) == (
        100, 1, 9, 0.1, 1.05, 0.9)
    # The official n_queries=5000 counts iterations after Square's initial query; ours counts that query too.
    assert (square.queries, square.p_init, square.rescale_schedule) == (5001, 0.8, False)


def test_suite_reports_cumulative_and_reliability_reads_it():
    runs = {"autoattack": {"8/255": {"accuracy": 30.0, "cumulative": {
        "apgd-ce": 50.0, "apgd-t": 48.0, "fab-t": 48.0, "square": 30.0}}}}
    flags = result_flags(record_of(runs))
    assert [f.name for f in flags] == ["black_box_stronger"] and "autoattack" in flags[0].message
    runs["autoattack"]["8/255"]["cumulative"]["square"] = 47.5
    runs["autoattack"]["8/255"]["accuracy"] = 47.5
    assert result_flags(record_of(runs)) == []
    # A composite containing Square is not a white-box attack the black-box one is compared against.
    runs["square"] = {"8/255": 40.0}
    runs["pgd"] = {"8/255": 41.5}
    assert [f.name for f in result_flags(record_of(runs))] == ["black_box_stronger"]
