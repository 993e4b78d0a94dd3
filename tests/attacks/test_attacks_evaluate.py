"""evaluate_attack: robust accuracy, per-sample outcome and cost over a dataset in batches."""

from __future__ import annotations

import pytest
import torch

from robnas.attacks import create_attack
from robnas.attacks.evaluate import evaluate_attack


def test_clean_row_is_clean_accuracy(trained_cnn, digits):
    images = (digits.x_test * 255).round().to(torch.uint8)  # the 17 grey levels of digits are exact
    labels = digits.y_test
    result = evaluate_attack(trained_cnn, create_attack("clean"), images, labels, batch_size=100)
    with torch.no_grad():
        logits = trained_cnn(images.float() / 255)
    assert result.accuracy == pytest.approx((logits.argmax(1) == labels).float().mean().item())
    assert torch.equal(result.adv_pred, logits.argmax(1))
    assert abs(result.mean_confidence - torch.softmax(logits, 1).amax(1).mean().item()) < 1e-5
    assert result.queries == labels.shape[0]


def test_attack_row(trained_cnn, digits):
    images, labels = digits.x_test[:150], digits.y_test[:150]
    attack = create_attack("pgd", eps=32 / 255, alpha=8 / 255, steps=5)
    result = evaluate_attack(trained_cnn, attack, images, labels, batch_size=64)
    assert result.success.shape == (150,) and result.success.dtype == torch.bool
    assert result.accuracy == pytest.approx(1.0 - result.success.float().mean().item())
    assert torch.equal(result.success, result.adv_pred != labels)
    clean = evaluate_attack(trained_cnn, create_attack("clean"), images, labels, batch_size=64)
    assert result.accuracy < clean.accuracy
    assert result.seconds > 0 and result.queries > 150
