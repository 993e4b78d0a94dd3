"""Agreement with the reference implementations from the same starting point.

Oracles (test-only): ``pyautoattack.autopgd_base.APGDAttack`` (the original AutoAttack code) and
``torchattacks`` 3.5.1 (the library Devaguptapu et al. used).
"""

from __future__ import annotations

import pytest
import torch
import torchattacks
from pyautoattack.autopgd_base import APGDAttack

from robnas.attacks import create_attack


def start_in_ball(x: torch.Tensor, eps: float, norm: str, seed: int) -> torch.Tensor:
    noise = torch.rand(x.shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    if norm == "Linf":
        return (x + 0.9 * eps * noise).clamp(0, 1)
    return (x + 0.9 * eps * noise / noise.flatten(1).norm(dim=1).view(-1, 1, 1, 1)).clamp(0, 1)


@pytest.mark.parametrize("model_name", ["trained_mlp", "trained_cnn"])
@pytest.mark.parametrize("norm, eps", [("Linf", 24 / 255), ("L2", 0.5)])
def test_apgd_matches_autoattack(request, batch, model_name, norm, eps):
    model = request.getfixturevalue(model_name)
    x, y = batch
    x, y = x[:60], y[:60]
    x_init = start_in_ball(x, eps, norm, seed=5)
    steps = 40
    ours = create_attack("apgd-ce", eps=eps, norm=norm, steps=steps, restarts=1, early_stop=False)
    res = ours.run(model, x, y, x_init=x_init)

    oracle = APGDAttack(model, n_iter=steps, norm=norm, n_restarts=1, eps=eps, loss="ce", rho=0.75, device="cpu")
    oracle.init_hyperparam(x)
    with torch.random.fork_rng():
        x_best, robust_any_iterate, _, _ = oracle.attack_single_run(x, y, x_init)
    with torch.no_grad():
        oracle_success = model(x_best).argmax(1) != y

    assert (res.x_adv - x_best).abs().max().item() <= 1e-5
    assert torch.equal(res.success, oracle_success)
    assert 0 < oracle_success.sum() < x.shape[0]  # a comparison where both outcomes occur

    # Evaluation mode: a sample counts as broken iff some iterate fooled the model, as in AutoAttack.
    evaluation = create_attack("apgd-ce", eps=eps, norm=norm, steps=steps, restarts=1).run(model, x, y, x_init=x_init)
    assert torch.equal(evaluation.success, ~robust_any_iterate)


@pytest.mark.parametrize("model_name", ["trained_mlp", "trained_cnn"])
def test_fgsm_matches_torchattacks(request, batch, model_name):
    model = request.getfixturevalue(model_name)
    x, y = batch
    theirs = torchattacks.FGSM(model, eps=16 / 255)(x, y)
    ours = create_attack("fgsm", eps=16 / 255, early_stop=False)(model, x, y)
    assert (ours - theirs).abs().max().item() <= 1e-6


@pytest.mark.parametrize("model_name", ["trained_mlp", "trained_cnn"])
def test_pgd_and_bim_match_torchattacks_from_the_clean_point(request, batch, model_name):
    model = request.getfixturevalue(model_name)
    x, y = batch
    eps, alpha = 16 / 255, 2 / 255
    theirs = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=10, random_start=False)(x, y)
    ours = create_attack("pgd", eps=eps, alpha=alpha, steps=10, random_start=False, early_stop=False)(model, x, y)
    assert (ours - theirs).abs().max().item() <= 1e-6
    theirs = torchattacks.BIM(model, eps=eps, alpha=alpha, steps=10)(x, y)
    ours = create_attack("bim", eps=eps, alpha=alpha, steps=10, early_stop=False)(model, x, y)
    assert (ours - theirs).abs().max().item() <= 1e-6


def test_pgd_and_ffgsm_match_torchattacks_from_their_random_start(trained_cnn, batch):
    """torchattacks draws its start from the global RNG: replay that draw and inject it as x_init."""
    x, y = batch
    eps = 16 / 255
    with torch.random.fork_rng():
        torch.manual_seed(7)
        start = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)  # PGD's draw
        torch.manual_seed(7)
        theirs = torchattacks.PGD(trained_cnn, eps=eps, alpha=2 / 255, steps=10, random_start=True)(x, y)
    ours = create_attack("pgd", eps=eps, alpha=2 / 255, steps=10, early_stop=False)(trained_cnn, x, y, x_init=start)
    assert (ours - theirs).abs().max().item() <= 1e-6

    with torch.random.fork_rng():
        torch.manual_seed(8)
        start = (x + torch.randn_like(x).uniform_(-eps, eps)).clamp(0, 1)  # FFGSM's draw
        torch.manual_seed(8)
        theirs = torchattacks.FFGSM(trained_cnn, eps=eps, alpha=1.25 * eps)(x, y)
    ours = create_attack("ffgsm", eps=eps, early_stop=False)(trained_cnn, x, y, x_init=start)
    assert (ours - theirs).abs().max().item() <= 1e-6
