"""Behaviour on a small trained model: stronger budgets never help the model, and evaluation mode
(early stopping) is never weaker than the full budget while spending fewer queries."""

from __future__ import annotations

import pytest

from robnas.attacks import create_attack

EPS_GRID = [0, 2 / 255, 4 / 255, 8 / 255, 16 / 255, 32 / 255, 64 / 255]


def robust_accuracy(model, x, y, name, **params) -> float:
    return create_attack(name, **params).run(model, x, y).robust_accuracy


@pytest.mark.parametrize("name, params", [
    ("fgsm", {}),
    ("pgd", {"steps": 10}),
    ("apgd-ce", {"steps": 20, "restarts": 1}),
])
def test_robust_accuracy_falls_as_eps_grows(trained_cnn, batch, name, params):
    x, y = batch
    accs = []
    for eps in EPS_GRID:
        step = {"alpha": eps / 4} if name == "pgd" and eps > 0 else {}
        accs.append(robust_accuracy(trained_cnn, x, y, name, eps=eps, **params, **step))
    assert all(later <= earlier for earlier, later in zip(accs, accs[1:])), accs
    assert accs[-1] < accs[0] - 0.5, accs  # digits at 64/255 are well broken


def test_robust_accuracy_falls_with_more_pgd_steps(trained_mlp, batch):
    x, y = batch
    eps = 24 / 255
    accs = [robust_accuracy(trained_mlp, x, y, "pgd", eps=eps, alpha=eps / 8, steps=steps, random_start=False)
            for steps in (1, 10, 50)]
    assert accs[0] >= accs[1] >= accs[2] and accs[2] < accs[0], accs


@pytest.mark.parametrize("name, params", [
    ("pgd", {"steps": 10, "restarts": 2}),
    ("apgd-ce", {"steps": 25, "restarts": 2}),
    ("bim", {}),
    ("ffgsm", {}),
    ("fgsm", {}),
])
def test_early_stop_is_never_weaker_and_cheaper(trained_cnn, batch, name, params):
    x, y = batch
    eps = 24 / 255
    evaluation = create_attack(name, eps=eps, early_stop=True, **params).run(trained_cnn, x, y)
    full = create_attack(name, eps=eps, early_stop=False, **params).run(trained_cnn, x, y)
    assert evaluation.robust_accuracy <= full.robust_accuracy
    assert (full.success & ~evaluation.success).sum() == 0  # pointwise: every break is found again
    if name in ("pgd", "apgd-ce", "bim"):
        # Iterative attacks save most of the budget; a random-start single step cannot (its clean
        # screening forward is the price of never attacking clean-misclassified points).
        assert evaluation.queries < full.queries


def test_broken_samples_leave_the_batch(trained_cnn, batch):
    x, y = batch
    n = x.shape[0]
    res = create_attack("pgd", eps=64 / 255, alpha=16 / 255, steps=10).run(trained_cnn, x, y)
    # clean forward + at most 10 gradient queries + a final forward per sample, far less once broken
    assert res.queries < n * 12 * 0.5
    assert res.robust_accuracy == 0.0


def test_clean_misclassified_points_are_not_attacked(trained_cnn, batch):
    x, y = batch
    wrong_labels = (y + 1) % 10  # every point is misclassified before the attack
    for name in ("pgd", "apgd-ce", "fgsm", "bim"):
        res = create_attack(name, eps=8 / 255).run(trained_cnn, x, wrong_labels)
        assert res.success.all()
        assert (res.x_adv == x).all()
        assert res.queries == x.shape[0]
