"""Square Attack's margin handles negative logits; more queries never hurt (the oracle check is in test_square_sparse)."""

from __future__ import annotations

import torch

from robnas.attacks import create_attack
from robnas.attacks.square import margin


def test_margin_masks_the_true_class_even_for_negative_logits():
    logits = torch.tensor([[-5.0, -1.0, -3.0], [-0.5, -9.0, -0.1]])
    assert torch.allclose(margin(logits, torch.tensor([1, 0])), torch.tensor([2.0, -0.4]))


def test_more_queries_never_hurt_and_queries_are_counted(trained_mlp, batch):
    x, y = batch
    few = create_attack("square", eps=0.1, queries=50, seed=0).run(trained_mlp, x, y)
    many = create_attack("square", eps=0.1, queries=400, seed=0).run(trained_mlp, x, y)
    assert many.robust_accuracy <= few.robust_accuracy
    assert few.queries <= x.shape[0] * 51
