"""TRADES adversarial training (Zhang et al. 2019): the KL term acts, beta = 0 is clean training, bad beta."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from robnas.errors import InvalidValueError
from robnas.models import create_model
from robnas.train.adversarial import adversarial_loss, trades_examples, trades_kl
from robnas.train.settings import AdversarialTrainingConfig, TrainConfig, check_train_config
from robnas.rng import make_generator

TRADES = AdversarialTrainingConfig(enabled=True, method="trades", eps=8 / 255, alpha=2 / 255, steps=3, beta=6.0)


def _model_and_batch():
    torch.manual_seed(0)
    model = create_model("resnet18", num_classes=10, in_channels=1, width=2).train()
    return model, torch.rand(16, 1, 8, 8), torch.randint(0, 10, (16,))


def _plain(output, y):
    return F.cross_entropy(output, y), output


def test_trades_examples_stay_in_the_ball_and_raise_the_kl():
    model, x, y = _model_and_batch()
    x_adv = trades_examples(model, x, TRADES, make_generator(0))
    assert (x_adv - x).abs().max() <= 8 / 255 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    model.eval()
    with torch.no_grad():
        clean = model(x)
        start = trades_kl(model((x + 0.001 * torch.randn(x.shape, generator=make_generator(0))).clamp(0, 1)), clean)
        assert trades_kl(model(x_adv), clean) > start


def test_the_kl_term_is_non_zero_and_weighted_by_beta():
    model, x, y = _model_and_batch()
    loss, logits, extra = adversarial_loss(model, x, y, TRADES, _plain, seed=3)
    natural = F.cross_entropy(model(x), y)
    assert extra["trades_kl"] > 0
    assert loss.item() == pytest.approx(natural.item() + 6.0 * extra["trades_kl"], rel=1e-5)
    assert model.training  # the caller's training mode is restored after crafting in eval mode


def test_beta_zero_is_clean_training_on_the_clean_branch():
    model, x, y = _model_and_batch()
    zero = dataclasses.replace(TRADES, beta=0.0)
    loss, _, _ = adversarial_loss(model, x, y, zero, _plain, seed=3)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    clean = torch.autograd.grad(F.cross_entropy(model(x), y), list(model.parameters()))
    for a, b in zip(grads, clean):
        torch.testing.assert_close(a, b)


def test_bad_trades_settings_are_one_line_errors():
    for bad, needle in ((dict(beta=-1.0), "beta"), (dict(method="mart"), "method")):
        with pytest.raises(InvalidValueError, match=needle):
            check_train_config(TrainConfig(adversarial=dataclasses.replace(TRADES, **bad)))


def test_trades_training_runs_end_to_end():
    import tempfile

    from robnas.data import load_dataset
    from robnas.store.run_dir import RunDir
    from robnas.train import train_model

    data = load_dataset("digits", train_size=64, test_size=20)
    model, _, _ = _model_and_batch()
    cfg = TrainConfig(epochs=1, batch_size=32, adversarial=TRADES)
    with tempfile.TemporaryDirectory() as tmp:
        result = train_model(model, data.train, data.test, cfg, RunDir(tmp, quiet=True), quiet=True)
    assert result.history[0]["trades_kl"] > 0 and "val_robust_acc" in result.history[0]
