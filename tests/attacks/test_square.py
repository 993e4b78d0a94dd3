"""Square Attack agrees with the reference implementation's strength; its margin handles negative logits."""

from __future__ import annotations

import statistics

import torch

from robnas.attacks import create_attack
from robnas.attacks.square import margin


def test_margin_masks_the_true_class_even_for_negative_logits():
    logits = torch.tensor([[-5.0, -1.0, -3.0], [-0.5, -9.0, -0.1]])
    assert torch.allclose(margin(logits, torch.tensor([1, 0])), torch.tensor([2.0, -0.4]))


def test_square_robust_accuracy_matches_pyautoattack_within_one_point(trained_mlp, digits):
    from pyautoattack.square import SquareAttack

    x, y = digits.x_test[:300], digits.y_test[:300]
    eps, queries = 0.1, 300
    ours = [create_attack("square", eps=eps, queries=queries, rescale_schedule=False, seed=s).run(
        trained_mlp, x, y).robust_accuracy for s in range(3)]
    theirs = []
    for s in range(3):
        ref = SquareAttack(trained_mlp, p_init=0.8, n_queries=queries, eps=eps, norm="Linf", n_restarts=1, seed=s,
                           device="cpu", resc_schedule=False)
        with torch.no_grad():
            theirs.append((trained_mlp(ref.perturb(x, y)).argmax(1) == y).float().mean().item())
    # random search: compare means over seeds (one seed's spread is itself about a point)
    assert abs(statistics.mean(ours) - statistics.mean(theirs)) <= 0.01


def test_more_queries_never_hurt_and_queries_are_counted(trained_mlp, batch):
    x, y = batch
    few = create_attack("square", eps=0.1, queries=50, seed=0).run(trained_mlp, x, y)
    many = create_attack("square", eps=0.1, queries=400, seed=0).run(trained_mlp, x, y)
    assert many.robust_accuracy <= few.robust_accuracy
    assert few.queries <= x.shape[0] * 51
