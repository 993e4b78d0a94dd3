"""C&W L2, DeepFool and MI-FGSM: agreement with torchattacks 3.5.1, where it is wrong, and the threat model.

Stated tolerances (measured on the digits fixtures, float32 on CPU):

* C&W against ``torchattacks.CW`` on a model whose logits are all positive (there torchattacks'
  margin is correct): the same success flags, per-sample perturbation norms within 2e-3 and images
  within 1e-5 on at least 90% of the samples (the rest pick a different, equally close iterate
  after 100 Adam steps amplify float rounding; torchattacks freezes pixels at 0/1 at w = +-inf,
  we start them at arctanh(+-(1 - 1e-6))).
* DeepFool against ``torchattacks.DeepFool`` (L2): images within 2e-4 (we lengthen each step by
  the official code's 1e-4), mean perturbation norm over the points both break within 2e-4, and
  every sample torchattacks fools we fool too. Robust accuracy: ours 0, theirs 0.15-0.5 (it stalls
  on exact ties, see test_deepfool_matches_torchattacks_and_does_not_stall_on_ties).
* MI-FGSM against ``torchattacks.MIFGSM``: images within 1e-6 (both deterministic, same start).
"""

from __future__ import annotations

import math

import pytest
import torch
import torchattacks
from torch import nn

import robnas.attacks.cw  # noqa: F401  (registers "cw")
import robnas.attacks.deepfool  # noqa: F401  (registers "deepfool")
import robnas.attacks.mifgsm  # noqa: F401  (registers "mifgsm")
from robnas.attacks import create_attack
from robnas.attacks.cw import true_class_margin
from robnas.attacks.threat import perturbation_norm
from robnas.errors import InvalidValueError


class Shifted(nn.Module):
    """The same classifier with every logit moved by ``offset`` (same predictions, same margins)."""

    def __init__(self, model: nn.Module, offset: float) -> None:
        super().__init__()
        self.model, self.offset = model, offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) + self.offset


def predictions_fooled(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x).argmax(1) != y


def l2(x_adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return perturbation_norm(x_adv - x, "L2")


# ----------------------------------------------------------------------------------------------- C&W


def test_margin_masks_the_true_class_even_when_all_logits_are_negative():
    logits = torch.tensor([[-5.0, -1.0, -3.0], [-2.0, -4.0, -0.5], [2.0, -7.0, 1.0]])
    y = torch.tensor([1, 0, 2])
    # z_y - max over the other classes, written out
    assert torch.equal(true_class_margin(logits, y), torch.tensor([-1.0 + 3.0, -2.0 + 0.5, 1.0 - 2.0]))
    # torchattacks' one-hot product puts a 0 where z_y was: with negative logits the 0 wins the max
    one_hot = torch.eye(3)[y]
    theirs = (one_hot * logits).max(1).values - ((1 - one_hot) * logits).max(1).values
    assert theirs[0].item() == 0.0 and theirs[1].item() == 0.0


@pytest.fixture(scope="module")
def cw_runs(trained_mlp, batch):
    """Ours and torchattacks' C&W (RNAS' c = 0.5, 100 steps) on the MLP with logits shifted by +30, 0 and -30."""
    x, y = batch[0][:48], batch[1][:48]
    runs = {}
    for offset in (30.0, 0.0, -30.0):
        model = Shifted(trained_mlp, offset).eval()
        theirs = torchattacks.CW(model, c=0.5, kappa=0, steps=100, lr=0.01)(x, y)
        ours = create_attack("cw", c=0.5, steps=100, early_stop=False).run(model, x, y)
        runs[offset] = (model, theirs, ours)
    return x, y, runs


def test_cw_matches_torchattacks_where_its_margin_is_right(cw_runs):
    x, y, runs = cw_runs
    model, theirs, ours = runs[30.0]
    with torch.no_grad():
        assert model(x).min() > 0  # every logit positive: torchattacks' one-hot trick is correct here
    their_success = predictions_fooled(model, theirs, y)
    assert torch.equal(ours.success, their_success)
    assert 0 < their_success.sum() < x.shape[0]  # a comparison where both outcomes occur
    assert (l2(ours.x_adv, x) - l2(theirs, x)).abs().max().item() <= 2e-3
    close = (ours.x_adv - theirs).flatten(1).abs().amax(1) <= 1e-5
    assert close.float().mean().item() >= 0.9


def test_cw_torchattacks_is_blind_with_negative_logits_and_we_are_not(cw_runs):
    x, y, runs = cw_runs
    model, theirs, ours = runs[-30.0]
    with torch.no_grad():
        assert model(x).max() < 0
    # torchattacks' margin is the constant 0: the attack never moves and its robust accuracy is the clean one.
    assert torch.equal(theirs, x)
    clean_fooled = predictions_fooled(model, x, y)
    # Ours only sees margins, which a shift of the logits does not change: the same points are broken.
    _, _, ours_positive = runs[30.0]
    assert (ours.success != ours_positive.success).sum().item() <= 1
    assert ours.robust_accuracy <= 1 - clean_fooled.float().mean().item() - 0.5


def test_cw_on_an_ordinary_model_is_at_least_as_strong_as_torchattacks(cw_runs):
    """Mixed-sign logits: torchattacks' margin goes flat once z_y < 0, so it breaks fewer points."""
    x, y, runs = cw_runs
    model, theirs, ours = runs[0.0]
    their_robust = 1 - predictions_fooled(model, theirs, y).float().mean().item()
    assert ours.robust_accuracy <= their_robust
    assert their_robust - ours.robust_accuracy <= 0.15  # measured: 0.417 vs 0.333 on these 48 points


def test_cw_binary_search_keeps_the_closest_point_and_fools_everything(trained_mlp, batch):
    x, y = batch[0][:24], batch[1][:24]
    budget = {"steps": 30, "lr": 0.1, "early_stop": False}
    single = create_attack("cw", c=10.0, **budget).run(trained_mlp, x, y)
    search = create_attack("cw", c=10.0, search_steps=4, **budget).run(trained_mlp, x, y)
    assert single.success.all() and search.success.all()  # unbounded: every point is broken
    # The first value of c repeats the single run, and the closest point over all values is kept.
    assert (l2(search.x_adv, x) <= l2(single.x_adv, x) + 1e-6).all()
    assert l2(search.x_adv, x).mean() < 0.9 * l2(single.x_adv, x).mean()  # bisection found smaller c's
    # Failed c's grow tenfold: from a tiny c the search still ends up breaking (nearly) every point.
    grown = create_attack("cw", c=1e-3, steps=30, lr=0.1, search_steps=5).run(trained_mlp, x, y)
    assert grown.robust_accuracy <= 0.05


def test_cw_evaluation_mode_breaks_the_same_points(trained_mlp, batch):
    x, y = batch[0][:40], batch[1][:40]
    for eps in (math.inf, 0.5):
        full = create_attack("cw", eps=eps, c=1.0, steps=30, early_stop=False).run(trained_mlp, x, y)
        fast = create_attack("cw", eps=eps, c=1.0, steps=30, early_stop=True).run(trained_mlp, x, y)
        assert torch.equal(full.success, fast.success)
        assert fast.queries < full.queries


def test_cw_kappa_keeps_only_confident_points(trained_mlp, batch):
    x, y = batch[0][:40], batch[1][:40]
    res = create_attack("cw", c=10.0, kappa=2.0, steps=30, lr=0.1, early_stop=False).run(trained_mlp, x, y)
    moved = (res.x_adv != x).flatten(1).any(1)
    assert moved.sum() > x.shape[0] // 2
    assert (true_class_margin(res.logits, y)[moved] <= -2.0 + 1e-4).all()


# ------------------------------------------------------------------------------------------ DeepFool


@pytest.mark.parametrize("model_name, squeeze", [("trained_mlp", False), ("trained_cnn", True)])
def test_deepfool_matches_torchattacks_and_does_not_stall_on_ties(request, batch, model_name, squeeze):
    """``squeeze`` maps the digits into [0.1, 0.9], where no pixel starts on the box's boundary."""
    model = request.getfixturevalue(model_name)
    x, y = batch[0][:12], batch[1][:12]
    if squeeze:
        x = 0.1 + 0.8 * x
    theirs = torchattacks.DeepFool(model, steps=8, overshoot=0.02)(x, y)
    ours = create_attack("deepfool", norm="L2", steps=8, overshoot=0.02, early_stop=False).run(model, x, y)
    # Same walk: every step agrees up to the official code's 1e-4 extra step length.
    assert (ours.x_adv - theirs).abs().max().item() <= 2e-4
    their_success = predictions_fooled(model, theirs, y)
    both = ours.success & their_success
    assert abs(l2(ours.x_adv, x)[both].mean().item() - l2(theirs, x)[both].mean().item()) <= 2e-4
    assert (ours.success | ~their_success).all()  # whatever they break, we break
    # torchattacks stops moving on exact ties between the true and another class (a zero step);
    # the 1e-4 nudge crosses them, so unbounded DeepFool breaks every point.
    assert ours.success.all()
    assert their_success.float().mean().item() < 1.0


@pytest.mark.parametrize("norm", ["L2", "Linf"])
def test_deepfool_is_exact_on_a_linear_two_class_model(norm):
    """For an affine binary classifier the distance to the boundary is |f| / ||w||_dual: DeepFool
    reaches it in one step (times the overshoot, plus the 1e-4 nudge)."""
    gen = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.randn(2, 16, generator=gen))
        model[1].bias.zero_()
    x = 0.5 + 0.01 * torch.randn(12, 1, 4, 4, generator=gen)
    with torch.no_grad():
        y = model(x).argmax(1)
    w = (model[1].weight[1] - model[1].weight[0]).detach()
    f = (model(x).detach() @ torch.tensor([1.0, -1.0])).abs()
    dual = w.norm() if norm == "L2" else w.abs().sum()
    res = create_attack("deepfool", norm=norm, early_stop=False).run(model, x, y)
    assert res.success.all()
    expected = 1.02 * (f / dual + 1e-4)
    assert torch.allclose(perturbation_norm(res.x_adv - x, norm), expected, rtol=1e-4, atol=1e-6)
    assert res.queries == 2 * x.shape[0]  # a linearisation at x, then a forward that finds the point fooled


def test_deepfool_linf_breaks_everything_and_chunks_do_not_interact(trained_cnn, batch):
    x, y = batch[0][:20], batch[1][:20]
    whole = create_attack("deepfool", norm="Linf").run(trained_cnn, x, y)
    assert whole.success.all()
    chunked = create_attack("deepfool", norm="Linf", batch_size=7).run(trained_cnn, x, y)
    assert torch.allclose(whole.x_adv, chunked.x_adv, atol=1e-6) and torch.equal(whole.success, chunked.success)


@pytest.mark.parametrize("name, norm, eps", [("cw", "L2", 0.5), ("deepfool", "L2", 0.5),
                                             ("deepfool", "Linf", 8 / 255)])
def test_finite_eps_bounds_the_minimum_norm_point(trained_mlp, batch, name, norm, eps):
    x, y = batch[0][:40], batch[1][:40]
    budget = {"cw": {"c": 1.0, "steps": 30}, "deepfool": {}}[name]
    free = create_attack(name, norm=norm, early_stop=False, **budget).run(trained_mlp, x, y)
    bounded = create_attack(name, norm=norm, eps=eps, early_stop=False, **budget).run(trained_mlp, x, y)
    dist = perturbation_norm(bounded.x_adv - x, norm)
    assert (dist <= eps + 1e-6).all() and bounded.x_adv.min() >= 0 and bounded.x_adv.max() <= 1
    assert torch.equal(bounded.success, predictions_fooled(trained_mlp, bounded.x_adv, y))
    # A minimum-norm point inside the ball is kept as it is; the others are projected onto the sphere.
    inside = free.success & (perturbation_norm(free.x_adv - x, norm) <= eps)
    assert torch.equal(bounded.x_adv[inside], free.x_adv[inside])
    assert (bounded.success | ~inside).all()
    assert 0 < inside.sum() < x.shape[0]


# ------------------------------------------------------------------------------------------- MI-FGSM


@pytest.mark.parametrize("model_name", ["trained_mlp", "trained_cnn"])
def test_mifgsm_matches_torchattacks(request, batch, model_name):
    model = request.getfixturevalue(model_name)
    x, y = batch
    for eps, alpha in ((16 / 255, 2 / 255), (8 / 255, None)):
        theirs = torchattacks.MIFGSM(model, eps=eps, alpha=alpha or eps / 10, steps=10, decay=1.0)(x, y)
        ours = create_attack("mifgsm", eps=eps, alpha=alpha, early_stop=False)(model, x, y)
        assert (ours - theirs).abs().max().item() <= 1e-6


@pytest.mark.parametrize("norm, eps, plain", [("Linf", 0.1, "bim"), ("L2", 1.0, "pgd")])
def test_mifgsm_without_momentum_is_the_plain_iterative_attack(trained_mlp, batch, norm, eps, plain):
    x, y = batch
    kwargs = {"random_start": False} if plain == "pgd" else {}
    ours = create_attack("mifgsm", eps=eps, norm=norm, alpha=eps / 5, steps=5, decay=0.0, early_stop=False)
    reference = create_attack(plain, eps=eps, norm=norm, alpha=eps / 5, steps=5, early_stop=False, **kwargs)
    assert (ours(trained_mlp, x, y) - reference(trained_mlp, x, y)).abs().max().item() <= 1e-6
    with_momentum = create_attack("mifgsm", eps=eps, norm=norm, early_stop=False).run(trained_mlp, x, y)
    assert (perturbation_norm(with_momentum.x_adv - x, norm) <= eps + 1e-6).all()
    assert with_momentum.success.float().mean() > 0.3


# ------------------------------------------------------------------------------------------ parameters


@pytest.mark.parametrize("name, params", [
    ("cw", {"eps": -1.0}), ("cw", {"eps": float("nan")}), ("cw", {"norm": "Linf"}), ("cw", {"c": 0.0}),
    ("cw", {"kappa": -1.0}), ("cw", {"lr": 0}), ("cw", {"search_steps": 0}), ("deepfool", {"candidates": 1}),
    ("deepfool", {"overshoot": -0.1}), ("deepfool", {"eps": "inf"}), ("mifgsm", {"decay": -1.0}),
    ("mifgsm", {"eps": math.inf}),
])
def test_bad_parameters_are_rejected(name, params):
    with pytest.raises(InvalidValueError):
        create_attack(name, **params)


def test_minimum_norm_attacks_accept_an_unbounded_radius():
    assert create_attack("cw").eps == math.inf and create_attack("deepfool", eps=math.inf).eps == math.inf
    assert not create_attack("cw").is_random and not create_attack("deepfool").is_random
    assert create_attack("mifgsm", eps=0.1, steps=4).alpha == pytest.approx(0.025)
