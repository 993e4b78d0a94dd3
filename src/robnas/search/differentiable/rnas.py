"""RNAS (Robust Network Architecture Search, ICLR 2022 submission): adversarial bilevel search under a
network-vulnerability bound.

What the paper specifies, and how each under-specified point is read here:

* Objective (Eq. 7-8): the weights minimise the adversarial training loss ``L_train^adv``; the
  alphas minimise ``L_val + L_val^adv`` (clean plus adversarial validation loss), subject to
  ``F(alpha) <= H``. Algorithm 1 (line 5) writes only ``L_val^adv`` for the alpha step; the default
  ``arch_objective="clean+adv"`` follows Eq. 8, ``"adv"`` follows Algorithm 1. Adversarial examples
  are PGD in the Linf ball; the paper gives PGD settings for training only (eps 8/255, step 2/255,
  7 steps), which are used for the search too.
* Channel vulnerability (Eq. 3): ``E_x KL(z, z_adv)`` between the clean and adversarial "feature
  value" of one channel. A channel's HxW feature map becomes a distribution by a softmax over its
  spatial positions (temperature 1), and the KL is KL(clean || adversarial), averaged over the batch
  (the expectation). On a 1x1 map this distribution is degenerate (KL = 0).
* Cell vulnerability (Eq. 5): the MEAN over the channels of the cell's output (the introduction
  says "sum"; Eq. 5 has 1/N, which is used). Network vulnerability (Eq. 6): the mean over cells.
  Cells are the searched cells (DARTS cells; NB201 search cells, not the ResNet blocks).
* Clean and adversarial features are computed in eval mode (batch norm with running statistics),
  so both pass through the same normalisation; in training mode each batch would be normalised by
  its own statistics, hiding part of the deviation.
* Projection (Eq. 9): ``min ||alpha - alpha_p||^2 / 2 s.t. F(alpha_p) <= H`` "solved by a Lagrangian
  method". robnas solves it by sequential linearisation: at the iterate ``a_k`` the constraint is
  replaced by ``F(a_k) + g_k.(p - a_k) <= H`` and the anchor ``alpha`` is projected onto that
  half-space in closed form (the KKT solution of its Lagrangian: ``p = alpha - lambda g_k``,
  ``lambda = max(0, (F(a_k) + g_k.(alpha - a_k) - H') / ||g_k||^2)``, aiming at ``H' = 0.95 H`` so that
  the curvature of F does not leave the iterate just outside; a proposal that does not lower F is
  halved, so F decreases monotonically); this repeats until the batch's
  ``F <= H`` or ``projection_iters`` is reached. ``F`` is estimated on one batch (clean + PGD). It
  is a local method: when H is below what small moves of alpha can reach, the iterate stays
  infeasible and the search logs ``rnas_feasible`` < 1.
* Algorithm 1: Phase I (the first 15 of 60 epochs; proportionally fewer for shorter searches)
  updates only the weights, with PGD examples. Phase II epochs have T iterations: iterations
  ``1..u`` alternate a weight step then an alpha step (first order, weights first as written);
  iterations ``u+1..T`` only project the alphas (one projection per iteration, on a fresh batch).
  The paper does not give ``u``; ``projection_fraction`` (default 0.2) sets ``T - u``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from robnas.attacks import create_attack
from robnas.attacks.base import eval_mode
from robnas.eps import Eps
from robnas.errors import InvalidValueError
from robnas.search.differentiable.terms import StepInfo, StepPlan, WarmedUpTerm, register_term
from robnas.spaces.supernet import Supernet

#: The paper's schedule: 60 search epochs, of which the first 15 warm up the weights.
PAPER_EPOCHS, PAPER_WARMUP = 60, 15
ARCH_OBJECTIVES = ("clean+adv", "adv")
#: The projection aims this fraction inside the bound (see project_onto_bound).
PROJECTION_MARGIN = 0.05
#: How often a projection proposal that does not lower F is halved before the projection gives up.
MAX_HALVINGS = 4


def cell_vulnerability(clean: torch.Tensor, adv: torch.Tensor) -> torch.Tensor:
    """Mean over batch and channels of KL(softmax_spatial(clean) || softmax_spatial(adv)) (Eq. 3-5)."""
    log_p = F.log_softmax(clean.flatten(2), dim=-1)
    log_q = F.log_softmax(adv.flatten(2), dim=-1)
    return (log_p.exp() * (log_p - log_q)).sum(-1).mean()


def network_vulnerability(model: Supernet, x: torch.Tensor, x_adv: torch.Tensor) -> torch.Tensor:
    """Mean cell vulnerability over the searched cells (Eq. 6), in eval mode; differentiable."""
    with eval_mode(model):
        _, clean = model.forward_with_cells(x)
        _, adv = model.forward_with_cells(x_adv)
    return torch.stack([cell_vulnerability(c, a) for c, a in zip(clean, adv)]).mean()


@dataclass(frozen=True)
class ProjectionResult:
    before: float
    after: float
    iterations: int

    def feasible(self, bound: float) -> bool:
        return self.after <= bound


def project_onto_bound(model: Supernet, x: torch.Tensor, x_adv: torch.Tensor, bound: float,
                       max_iters: int = 10) -> ProjectionResult:
    """Move the alphas (in place) to an approximately nearest point with vulnerability <= ``bound``.

    Each iteration projects the anchor (the alphas on entry) onto the linearised constraint at the
    current iterate; a proposal that does not lower F is halved (up to ``MAX_HALVINGS`` times), so F
    decreases monotonically until the bound holds or ``max_iters`` iterations are spent.
    """
    params = model.arch_parameters()
    anchor = [p.detach().clone() for p in params]
    # Aim a little inside the bound: a linearised step that lands exactly on H tends to stop just outside.
    target = (1.0 - PROJECTION_MARGIN) * bound
    value = network_vulnerability(model, x, x_adv)
    before = current = value.item()
    iteration = 0
    while current > bound and iteration < max_iters:
        iteration += 1
        grads = torch.autograd.grad(value, params)
        sq_norm = sum(float((g * g).sum()) for g in grads)
        if sq_norm <= 1e-30:  # flat: the linearisation cannot say where to go
            break
        here = [p.detach().clone() for p in params]
        # g.(anchor - a_k): how far the anchor lies along the gradient from the current iterate.
        offset = sum(float((g * (a - h)).sum()) for g, a, h in zip(grads, anchor, here))
        lam = max(0.0, (current + offset - target) / sq_norm)
        steps = [a - lam * g - h for a, g, h in zip(anchor, grads, here)]
        for _ in range(MAX_HALVINGS + 1):
            with torch.no_grad():
                for p, h, d in zip(params, here, steps):
                    p.copy_(h + d)
            value = network_vulnerability(model, x, x_adv)
            if value.item() < current:
                break
            steps = [d / 2 for d in steps]
        else:  # no decrease along this direction: keep the best point found
            with torch.no_grad():
                for p, h in zip(params, here):
                    p.copy_(h)
            break
        current = value.item()
    return ProjectionResult(before, current, iteration)


def projection_steps(steps: int, fraction: float) -> int:
    """How many of an epoch's ``steps`` iterations are projection iterations (T - u)."""
    if fraction <= 0 or steps < 2:
        return 0
    return min(steps - 1, max(1, round(fraction * steps)))


@dataclass(frozen=True)
class RNASParams:
    """RNAS' settings: PGD examples in both steps and the vulnerability bound H (paper values where it
    gives them); the ``[search.differentiable.rnas]`` section."""

    eps: Eps = Eps.parse("8/255")
    alpha: Eps = Eps.parse("2/255")
    steps: int = 7
    bound: float = 1e-4               # H
    warmup_epochs: int | None = None  # None: the paper's share, round(15/60 * epochs)
    projection_fraction: float = 0.2  # share of each epoch's iterations that only project (T-u)/T; not in the paper
    projection_iters: int = 10        # linearised projection iterations per projection step
    arch_objective: str = "clean+adv"  # Eq. 8 (L_val + L_val^adv); "adv" = Algorithm 1 line 5

    def __post_init__(self) -> None:
        if self.arch_objective not in ARCH_OBJECTIVES:
            raise InvalidValueError(f"RNAS arch_objective must be one of {', '.join(ARCH_OBJECTIVES)}, "
                                    f"got {self.arch_objective!r}")
        if not self.bound >= 0:
            raise InvalidValueError(f"RNAS vulnerability bound H must be >= 0, got {self.bound}")
        if not 0 <= self.projection_fraction < 1:
            raise InvalidValueError(f"RNAS projection_fraction must be in [0, 1), got {self.projection_fraction}")
        for what, value in (("warm-up epochs", self.warmup_epochs), ("projection_iters", self.projection_iters)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise InvalidValueError(f"RNAS {what} must be an integer >= 0, got {value!r}")
        # Validates eps/alpha/steps once, with the attack's own one-line errors.
        create_attack("pgd", eps=self.eps, alpha=self.alpha, steps=self.steps)


@register_term("rnas")
class RNASTerm(WarmedUpTerm):
    """PGD examples for the weight and architecture steps, warm-up, and the vulnerability projection."""

    Params = RNASParams
    paper_warmup, paper_epochs = PAPER_WARMUP, PAPER_EPOCHS
    params: RNASParams


    def _adversarial(self, model: Supernet, x: torch.Tensor, y: torch.Tensor, seed: int) -> torch.Tensor:
        # A fresh seeded attack per call: a resumed search crafts exactly the same examples.
        attack = create_attack("pgd", eps=self.params.eps, alpha=self.params.alpha, steps=self.params.steps, random_start=True,
                               early_stop=False, seed=seed)
        return attack(model, x, y)

    def _projecting(self, info: StepInfo) -> bool:
        return (info.epoch >= self.warmup(info.epochs)
                and info.step >= info.steps - projection_steps(info.steps, self.params.projection_fraction))

    def plan(self, info: StepInfo) -> StepPlan:
        if info.epoch < self.warmup(info.epochs):  # Phase I: weights only
            return StepPlan(architecture=False, weights_first=True)
        if self._projecting(info):           # Phase II, step 2: projection only
            return StepPlan(weights=False, architecture=False)
        return StepPlan(weights_first=True)  # Phase II, step 1: weights, then alphas

    def weight_batch(self, model, x, y, info):
        return self._adversarial(model, x, y, 2 * info.step_seed), y

    def arch_batch(self, model, x, y, info):
        if self.params.arch_objective == "adv":
            return self._adversarial(model, x, y, 2 * info.step_seed + 1), y
        return x, y

    def arch_loss(self, model, x, y, info):
        if self.params.arch_objective != "clean+adv":
            return None
        return F.cross_entropy(model(self._adversarial(model, x, y, 2 * info.step_seed + 1)), y)

    def after_step(self, model, x, y, info):
        if not self._projecting(info):
            return {}
        x_adv = self._adversarial(model, x, y, 2 * info.step_seed + 1)
        result = project_onto_bound(model, x, x_adv, self.params.bound, self.params.projection_iters)
        return {"vulnerability_before": result.before, "vulnerability": result.after,
                "feasible": float(result.feasible(self.params.bound)), "projection_iters": float(result.iterations)}
