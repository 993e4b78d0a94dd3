"""Properties every registered attack must have, checked with hypothesis on small random inputs.

Threat model (norm bound, [0, 1], shape), reproducibility under a seed without touching the global
RNG, the caller's model modes restored, no gradients left on parameters, and a result record whose
logits and success flags describe ``x_adv``.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robnas.attacks import create_attack, list_attacks
from robnas.attacks.threat import perturbation_norm
from robnas.attacks.registry import ATTACKS

# Small budgets keep every example fast; the semantics do not depend on the budget.
_FAST = {"pgd": {"steps": 3, "restarts": 2}, "bim": {"steps": 3}, "apgd-ce": {"steps": 6, "restarts": 2},
         "square": {"queries": 20}, "apgd-dlr": {"steps": 6, "restarts": 2},
         "apgd-t": {"steps": 6, "n_target_classes": 2}, "cw": {"steps": 4, "search_steps": 2},
         "deepfool": {"steps": 3}, "mifgsm": {"steps": 3}, "fab-t": {"steps": 5, "restarts": 2, "n_target_classes": 2},
         "onepixel": {"population": 8, "generations": 3}, "pgd-l0": {"steps": 3, "restarts": 2},
         "autoattack": {"steps": 3, "n_target_classes": 2, "queries": 10},
         "autoattack-rand": {"steps": 3, "eot_iter": 2}}
_EPS = {"Linf": [1 / 255, 8 / 255, 0.3], "L2": [0.1, 1.0, 3.0], "L0": [1, 3, 10]}

CASES = [(name, norm) for name in list_attacks() for norm in ATTACKS.get(name).norms]
SLACK = 1e-6


def make(name: str, norm: str, eps: float, seed: int = 0, early_stop: bool = True):
    return create_attack(name, eps=eps, norm=norm, seed=seed, early_stop=early_stop, **_FAST.get(name, {}))


def images(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 8, 8, generator=gen)
    x[0, 0, 0] = 0.0  # pixels on the box boundary exercise the clipping
    x[0, 0, 1] = 1.0
    return x, torch.randint(0, 10, (n,), generator=gen)


_settings = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("name, norm", CASES)
@_settings
@given(n=st.integers(1, 6), data_seed=st.integers(0, 1000), eps_index=st.integers(0, 2),
       early_stop=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_threat_model_and_result(trained_mlp, name, norm, n, data_seed, eps_index, early_stop, seed):
    eps = _EPS[norm][eps_index]
    x, y = images(n, data_seed)
    res = make(name, norm, eps, seed, early_stop).run(trained_mlp, x, y)
    assert res.x_adv.shape == x.shape and res.x_adv.dtype == x.dtype
    assert res.x_adv.min() >= 0 and res.x_adv.max() <= 1
    assert (perturbation_norm(res.x_adv - x, norm) <= eps + SLACK).all()
    with torch.no_grad():
        logits = trained_mlp(res.x_adv)
    assert torch.allclose(res.logits, logits, atol=1e-5)
    assert torch.equal(res.success, res.logits.argmax(1) != y)
    assert res.queries >= n


@pytest.mark.parametrize("name, norm", CASES)
@_settings
@given(n=st.integers(1, 5), data_seed=st.integers(0, 1000), early_stop=st.booleans(), seed=st.integers(0, 10**6))
def test_seeded_and_global_rng_untouched(trained_mlp, name, norm, n, data_seed, early_stop, seed):
    eps = _EPS[norm][1]
    x, y = images(n, data_seed)
    attack = make(name, norm, eps, seed, early_stop)
    rng_before = torch.get_rng_state()
    first = attack.run(trained_mlp, x, y)
    second = attack.run(trained_mlp, x, y)
    images_only = attack(trained_mlp, x, y)
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert torch.equal(first.x_adv, second.x_adv) and torch.equal(first.success, second.success)
    assert torch.equal(first.x_adv, images_only)


@pytest.mark.parametrize("name, norm", [(n, m) for n, m in CASES if create_attack(n, norm=m).is_random])
def test_different_seeds_give_different_points(trained_mlp, name, norm):
    x, y = images(6, 0)
    eps = _EPS[norm][1]
    runs = [make(name, norm, eps, seed, early_stop=False)(trained_mlp, x, y) for seed in (0, 1)]
    assert not torch.equal(runs[0], runs[1])


@pytest.mark.parametrize("name, norm", CASES)
def test_model_modes_restored_and_no_parameter_grads(digits, fresh_cnn, name, norm):
    model = fresh_cnn.train()
    model[1].eval()  # a caller's mixed modes (a frozen BatchNorm) must come back exactly
    modes = [m.training for m in model.modules()]
    stats = [model[i].running_mean.clone() for i in (1, 4)]
    x, y = digits.x_test[:5], digits.y_test[:5]
    make(name, norm, _EPS[norm][1]).run(model, x, y)
    assert [m.training for m in model.modules()] == modes
    assert all(p.grad is None for p in model.parameters())
    # Eval mode during the attack: BatchNorm statistics are not updated by the attack's forwards.
    assert all(torch.equal(model[i].running_mean, s) for i, s in zip((1, 4), stats))


def test_attack_runs_in_eval_mode(digits, fresh_cnn):
    """Dropout active during the attack would make the result random; eval mode makes it repeatable."""
    model = fresh_cnn.train()
    stats = model[4].running_mean.clone()
    x, y = digits.x_test[:8], digits.y_test[:8]
    attack = create_attack("pgd", steps=3, eps=0.2, alpha=0.05)
    assert torch.equal(attack(model, x, y), attack(model, x, y))
    assert torch.equal(model[4].running_mean, stats)


def test_x_init_replaces_the_first_start(trained_mlp, batch):
    x, y = batch
    x, y = x[:20], y[:20]
    eps = 0.2
    x_init = (x + eps * torch.sign(torch.randn(x.shape, generator=torch.Generator().manual_seed(3)))).clamp(0, 1)
    attacks = [create_attack("pgd", eps=eps, alpha=0.05, steps=2, seed=s, early_stop=False) for s in (0, 1)]
    a, b = (atk(trained_mlp, x, y, x_init=x_init) for atk in attacks)
    assert torch.equal(a, b)  # the seed no longer matters: the start was given


def test_clean_and_eps_zero_are_identity(trained_mlp, batch):
    x, y = batch
    for name in list_attacks():
        res = create_attack(name, eps=0.0).run(trained_mlp, x, y)
        assert torch.equal(res.x_adv, x)
        assert res.queries == x.shape[0]
    with torch.no_grad():
        wrong = trained_mlp(x).argmax(1) != y
    assert torch.equal(create_attack("clean").run(trained_mlp, x, y).success, wrong)


def test_empty_batch(trained_mlp):
    x, y = torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.long)
    res = create_attack("pgd").run(trained_mlp, x, y)
    assert res.x_adv.shape == x.shape and res.success.shape == (0,) and res.queries == 0


def test_chunking_does_not_change_deterministic_attacks(trained_mlp, batch):
    x, y = batch
    for name in ("fgsm", "bim"):
        whole = create_attack(name, eps=0.1).run(trained_mlp, x, y)
        chunked = create_attack(name, eps=0.1, batch_size=7).run(trained_mlp, x, y)
        assert torch.allclose(whole.x_adv, chunked.x_adv, atol=1e-6)
        assert torch.equal(whole.success, chunked.success) and whole.queries == chunked.queries
