"""Square Attack (Linf, L2) against the reference implementation; the pixel-budget (L0) attacks
``onepixel`` (differential evolution) and ``pgd-l0`` (Croce & Hein's PGD_0) and their threat model.

Oracle (test-only): ``pyautoattack.square.SquareAttack``, the original AutoAttack code. Its random
stream cannot be replayed (it draws one window per batch from the global RNG, we draw one per
sample from a private generator), so the comparison is on robust accuracy averaged over seeds.
The reference's accuracy moves by one to two points from seed to seed (its samples share every
window, so their outcomes are correlated); three seeds on the 397 test digits keep the means
well within the one-point tolerance at a cost of about 10 s per norm.
"""

from __future__ import annotations

import itertools
import statistics

import pytest
import torch
from pyautoattack.square import SquareAttack

import robnas.attacks.onepixel  # noqa: F401  (registers "onepixel")
import robnas.attacks.sparse  # noqa: F401  (registers "pgd-l0")
import robnas.attacks.square  # noqa: F401  (registers "square")
from robnas.attacks import create_attack
from robnas.attacks.onepixel import distinct_donors, paint
from robnas.attacks.square import eta, l2_candidate, l2_start, l2_step, linf_candidate, square_fraction
from robnas.attacks.threat import changed_pixels, perturbation_norm, project_pixels
from robnas.errors import InvalidValueError

# Small budgets for the L0 attacks; the paper's defaults (population 400 x 100 generations,
# 100 steps x 5 restarts) are far stronger and far slower.
_L0_FAST = {"onepixel": {"population": 24, "generations": 12}, "pgd-l0": {"steps": 12, "restarts": 1}}


# ---- Square Attack


def _oracle_accuracy(model, x, y, norm, eps, queries, seed) -> float:
    ref = SquareAttack(model, p_init=0.8, n_queries=queries, eps=eps, norm=norm, n_restarts=1, seed=seed, device="cpu")
    with torch.random.fork_rng():  # the reference seeds the global RNG
        adv = ref.perturb(x, y)
    with torch.no_grad():
        return (model(adv).argmax(1) == y).float().mean().item()


@pytest.mark.parametrize("norm, eps", [("Linf", 0.15), ("L2", 1.0)])
def test_square_robust_accuracy_matches_pyautoattack_within_one_point(trained_mlp, digits, norm, eps):
    x, y = digits.x_test, digits.y_test
    queries, seeds = 300, range(3)
    ours = [create_attack("square", eps=eps, norm=norm, queries=queries, seed=s).run(trained_mlp, x, y)
            for s in seeds]
    theirs = [_oracle_accuracy(trained_mlp, x, y, norm, eps, queries, s) for s in seeds]
    ours_acc = statistics.mean(r.robust_accuracy for r in ours)
    assert 0.2 < ours_acc < 0.9  # a budget where the attack breaks some points and not others
    assert abs(ours_acc - statistics.mean(theirs)) <= 0.01
    for r in ours:
        assert (perturbation_norm(r.x_adv - x, norm) <= eps + 1e-5).all()
        assert r.queries <= x.shape[0] * (queries + 1)  # clean screening + the per-point budget


@pytest.mark.parametrize("rescale", [True, False])
def test_p_schedule_is_the_official_one(rescale):
    ref = SquareAttack(None, p_init=0.8, n_queries=300, eps=0.1, resc_schedule=rescale)
    queries = 300 if rescale else None
    assert all(square_fraction(0.8, i, queries) == ref.p_selection(i) for i in range(0, 12000, 7))


def _official_l2_step(x, x_best, eps, first, second, pattern, signs):
    """The reference's L2 update for one sample (written out from pyautoattack's loop body)."""
    side = pattern.shape[-1]
    (vh, vw), (vh2, vw2) = first, second
    delta = x_best - x
    window = (slice(None), slice(None), slice(vh, vh + side), slice(vw, vw + side))
    window2 = (slice(None), slice(None), slice(vh2, vh2 + side), slice(vw2, vw2 + side))
    mask = torch.zeros_like(x)
    mask[window] = 1.0
    mask[window2] = 1.0
    norm_first = delta[window].pow(2).sum((-2, -1), keepdim=True).sqrt()
    norm_both = (delta * mask).pow(2).sum((-2, -1), keepdim=True).sqrt()
    norm_image = delta.pow(2).sum().sqrt()
    new = pattern * signs + delta[window] / (1e-12 + norm_first)
    budget = (torch.clamp(eps ** 2 - norm_image ** 2, min=0) / x.shape[1] + norm_both ** 2).sqrt()
    new = new / (1e-12 + new.pow(2).sum((-2, -1), keepdim=True).sqrt()) * budget
    delta[window2] = 0.0
    delta[window] = new
    return (x + delta / (delta.pow(2).sum().sqrt() + 1e-12) * eps).clamp(0, 1)


@pytest.mark.parametrize("channels, size, side", [(3, 12, 5), (1, 8, 7), (2, 9, 3)])
def test_l2_step_is_the_official_update(channels, size, side):
    gen = torch.Generator().manual_seed(side)
    m, eps = 6, 1.5
    x = torch.rand(m, channels, size, size, generator=gen)
    x_best = (x + 0.3 * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    first = torch.randint(size - side + 1, (2, m), generator=gen)
    second = torch.randint(size - side + 1, (2, m), generator=gen)
    pattern = eta(side, x.device, x.dtype)
    patterns = torch.stack([pattern if i % 2 else pattern.T for i in range(m)])
    signs = torch.randint(2, (m, channels, 1, 1), generator=gen).float() * 2 - 1
    ours = l2_step(x, x_best, eps, (first[0], first[1]), (second[0], second[1]), patterns, signs)
    for i in range(m):
        ref = _official_l2_step(x[i:i + 1], x_best[i:i + 1], eps, first[:, i].tolist(), second[:, i].tolist(),
                                patterns[i], signs[i:i + 1])
        assert torch.allclose(ours[i:i + 1], ref, atol=1e-6)


def test_eta_is_the_official_pattern():
    ref = SquareAttack(None, norm="L2", eps=1.0, device="cpu")
    for side in (1, 2, 3, 4, 7, 10):
        with torch.random.fork_rng():  # the reference transposes at random, from the global RNG
            theirs = ref.eta(side)
        ours = eta(side, torch.device("cpu"), torch.float32)
        assert torch.allclose(ours, theirs, atol=1e-6) or torch.allclose(ours.T, theirs, atol=1e-6)


def test_square_steps_stay_in_the_ball():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(16, 3, 12, 12, generator=gen)
    for eps in (0.05, 1.0, 3.0):
        start = l2_start(x, eps, gen)
        assert (perturbation_norm(start - x, "L2") <= eps + 1e-5).all()
        for p in (0.8, 0.1, 0.01):
            step = l2_candidate(x, start, eps, p, gen)
            assert (perturbation_norm(step - x, "L2") <= eps + 1e-5).all()
            assert step.min() >= 0 and step.max() <= 1
            moved = linf_candidate(x, x, eps, p, gen)
            assert (perturbation_norm(moved - x, "Linf") <= eps + 1e-6).all()


# ---- The pixel (L0) threat model


def test_changed_pixels_counts_spatial_positions():
    v = torch.zeros(3, 3, 4, 4)
    v[0, 0, 1, 1] = 0.5
    v[0, 2, 1, 1] = -0.1  # the same pixel in another channel
    v[0, 1, 3, 0] = 1.0
    v[2] = 0.2
    assert changed_pixels(v).tolist() == [2, 0, 16]
    assert perturbation_norm(v, "L0").tolist() == [2.0, 0.0, 16.0]


def test_project_pixels_is_the_euclidean_projection():
    """Brute force over every set of k kept pixels on 2x3 images with 2 channels."""
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(20, 2, 2, 3, generator=gen)
    x_adv = x + 1.5 * torch.randn(x.shape, generator=gen)  # far outside [0, 1] in places
    for k in (1, 2, 4):
        proj = project_pixels(x_adv, x, k)
        assert (changed_pixels(proj - x) <= k).all() and proj.min() >= 0 and proj.max() <= 1
        clipped = x_adv.clamp(0, 1)
        best = torch.full((20,), float("inf"))
        for kept in itertools.combinations(range(6), k):
            mask = torch.zeros(6, dtype=torch.bool)
            mask[list(kept)] = True
            candidate = torch.where(mask.view(1, 1, 2, 3), clipped, x)
            best = torch.minimum(best, (candidate - x_adv).flatten(1).norm(dim=1))
        assert torch.allclose((proj - x_adv).flatten(1).norm(dim=1), best, atol=1e-6)
    assert torch.equal(project_pixels(x_adv, x, 6), x_adv.clamp(0, 1))


def test_distinct_donors_are_distinct_and_never_the_member_itself():
    donors = distinct_donors(50, 5, torch.Generator().manual_seed(0), torch.device("cpu"))
    members = torch.arange(5).view(1, 5, 1).expand(50, 5, 1)
    every = torch.cat([members, donors], -1)
    assert ((every[..., :, None] == every[..., None, :]).sum((-2, -1)) == 4).all()  # only the diagonal
    assert set(donors.flatten().tolist()) == set(range(5))


def test_paint_sets_the_listed_pixels_and_the_later_duplicate_wins():
    x = torch.full((1, 2, 3, 3), 0.5)
    members = torch.tensor([[[[0.2, 2.9, 0.0, 1.0], [1.5, 1.0, 0.1, 0.2], [1.9, 1.7, 0.7, 0.8]]]])
    out = paint(x, members)[0, 0]
    assert out[:, 0, 2].tolist() == [0.0, 1.0]
    assert torch.allclose(out[:, 1, 1], torch.tensor([0.7, 0.8]))  # (1.5, 1.0) and (1.9, 1.7) are pixel (1, 1)
    assert changed_pixels(out[None] - x).item() == 2


@pytest.mark.parametrize("name", ["onepixel", "pgd-l0"])
def test_pixel_budget_must_be_a_whole_number(name):
    for bad in (-1, 1.5, float("inf"), "3", True, None):
        with pytest.raises(InvalidValueError, match="pixel budget"):
            create_attack(name, eps=bad)
    assert create_attack(name, eps=3.0).eps == 3
    with pytest.raises(InvalidValueError, match="L0"):
        create_attack(name, eps=3, norm="Linf")


@pytest.mark.parametrize("name", ["onepixel", "pgd-l0"])
@pytest.mark.parametrize("k", [1, 3, 10])
@pytest.mark.parametrize("early_stop", [True, False])
def test_l0_budget_box_and_seed(trained_mlp, batch, name, k, early_stop):
    x, y = batch
    x, y = x[:40], y[:40]
    attack = create_attack(name, eps=k, seed=3, early_stop=early_stop, **_L0_FAST[name])
    rng_before = torch.get_rng_state()
    first = attack.run(trained_mlp, x, y)
    again = attack.run(trained_mlp, x, y)
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert torch.equal(first.x_adv, again.x_adv) and first.queries == again.queries
    changed = changed_pixels(first.x_adv - x)
    assert (changed <= k).all()
    assert (changed == k).any()  # the budget is used, not merely respected
    assert first.x_adv.min() >= 0 and first.x_adv.max() <= 1
    other = create_attack(name, eps=k, seed=4, early_stop=early_stop, **_L0_FAST[name]).run(trained_mlp, x, y)
    assert not torch.equal(first.x_adv, other.x_adv)


@pytest.mark.parametrize("name", ["onepixel", "pgd-l0"])
def test_robust_accuracy_falls_with_the_pixel_budget(trained_mlp, digits, name):
    x, y = digits.x_test[:100], digits.y_test[:100]
    params = {"onepixel": {"population": 40, "generations": 20}, "pgd-l0": {"steps": 20, "restarts": 1}}[name]
    accuracy = [create_attack(name, eps=k, **params).run(trained_mlp, x, y).robust_accuracy for k in (1, 3, 10)]
    with torch.no_grad():
        clean = (trained_mlp(x).argmax(1) == y).float().mean().item()
    assert clean > accuracy[0] > accuracy[1] > accuracy[2]
    assert accuracy[2] <= 0.1  # ten of 64 pixels break nearly every digit


def test_onepixel_counts_queries_and_stops_broken_points(trained_mlp, batch):
    x, y = batch
    population, generations = 10, 5
    evaluation = create_attack("onepixel", eps=3, population=population, generations=generations).run(trained_mlp, x, y)
    full = create_attack("onepixel", eps=3, population=population, generations=generations,
                         early_stop=False).run(trained_mlp, x, y)
    # Without early stopping: one model call on every sample x member per generation, plus the start.
    assert full.queries == x.shape[0] * population * (generations + 1)
    # Evaluation mode spends one clean query per point and stops searching broken points.
    assert x.shape[0] < evaluation.queries < full.queries
    assert evaluation.success.any()


@pytest.mark.parametrize("name", ["onepixel", "pgd-l0"])
def test_x_init_is_used_as_a_start(trained_mlp, batch, name):
    """A fooling start from PGD_0 is kept by an attack given a single cheap round."""
    x, y = batch
    start = create_attack("pgd-l0", eps=5, steps=20, restarts=1).run(trained_mlp, x, y)
    assert start.success.sum() > 10
    short = {"onepixel": {"population": 4, "generations": 1}, "pgd-l0": {"steps": 1, "restarts": 1}}[name]
    seeded = create_attack(name, eps=5, seed=9, **short).run(trained_mlp, x, y, x_init=start.x_adv)
    assert (seeded.success | ~start.success).all()
    assert (changed_pixels(seeded.x_adv - x) <= 5).all()
