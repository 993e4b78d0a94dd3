"""Auto-PGD (Croce & Hein, ICML 2020), Linf and L2: APGD-CE, APGD-DLR and APGD-T.

The three attacks share one loop and differ only in the per-sample loss they maximise
(:mod:`robnas.attacks.losses`): cross-entropy, DLR, or targeted DLR towards a class ``t``.

Step size adapted at checkpoints instead of fixed: start at 2*eps; momentum-mixed steps
``x <- P(x + m (z - x) + (1 - m)(x - x_prev))`` with ``z = P(x + eta * direction(grad))``;
at each checkpoint the step of a sample is halved, and the sample restarts from its best point,
when (1) the loss increased in at most ``rho`` of the steps since the last checkpoint, or (2) the
step was not halved at the last checkpoint and the best loss has not improved since. Defaults
follow Devaguptapu et al. (100 iterations, 10 restarts).

Where the paper's text and the official code (``autoattack/autopgd_base.py``, pip
``pyautoattack``) differ we follow the code, so that iterates agree with it to float rounding:

* checkpoints are counted in whole iterations: the first after ``max(int(0.22 N), 1)`` steps,
  each next window ``max(int(0.03 N), 1)`` shorter but at least ``max(int(0.06 N), 1)`` steps
  (for N = 100 this is the paper's p_j schedule exactly);
* condition (1) flags a window when the increases are ``<= rho * window`` (the paper: ``<``), and in
  the first window the first step's loss is compared with 0 rather than with the loss at the
  start (the official code reads an unfilled, zero-initialised history there);
* condition (2) is not applied at the first checkpoint;
* after a restart from the best point, the next momentum term is (best point - previous iterate).

Expectation over transformation (EOT, for randomised models; AutoAttack's ``rand`` version uses 20):
with ``eot_iter = k`` every gradient query is ``k`` forward-backward passes at the same point and
the step follows their mean gradient. As in the official ``attack_single_run``, the logits and
loss that decide whether the point is misclassified and whether it is the best so far are those
of the last of the ``k`` passes (one random draw, not an average). Each pass counts as a query.

APGD-T follows ``APGDAttack_targeted.perturb``: one run per target among the ``n_target_classes``
classes the clean point ranks highest after its top class (sorting the clean logits), each run
from a fresh random start and only on the points still robust; success is untargeted. Departures:

* the ranking is computed once per chunk from one clean forward pass (the official code re-sorts
  the clean logits of the still-robust points for each target: the same classes);
* ``x_init`` replaces the start of the first run only (the official ``perturb`` ignores it);
* without early stopping every target runs on every point and a point keeps the first fooling
  point, else the highest targeted-DLR loss over all targets (the official code has no such mode);
* DLR takes ``max_{i != y} z_i`` directly (the official code reads the 2nd or 1st sorted logit
  depending on whether ``y`` is on top: the same value).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from robnas.attacks.base import Attack, points_to_search
from robnas.attacks.checks import check_fraction
from robnas.checks import positive_int
from robnas.errors import InvalidValueError
from robnas.attacks import losses
from robnas.attacks.gradient import LossGradient, QueryCounter, forward, loss_gradient
from robnas.attacks.outcome import Outcome
from robnas.attacks.registry import register_attack
from robnas.attacks.state import SampleState
from robnas.attacks.threat import ascent_direction, project, project_start, random_on_sphere


def checkpoint_windows(steps: int) -> dict[int, int]:
    """``{iteration index: window length}`` for every checkpoint of a run of ``steps`` iterations."""
    window = max(int(0.22 * steps), 1)
    shrink, shortest = max(int(0.03 * steps), 1), max(int(0.06 * steps), 1)
    checkpoints, at = {}, window - 1
    while at < steps:
        checkpoints[at] = window
        window = max(window - shrink, shortest)
        at += window
    return checkpoints


@dataclass
class _ApgdState(SampleState):
    x: torch.Tensor
    y: torch.Tensor
    x_adv: torch.Tensor
    x_prev: torch.Tensor            # the previous iterate, for the momentum term
    grad: torch.Tensor
    step: torch.Tensor              # per-sample step size eta, shaped [n, 1, ...]
    x_best: torch.Tensor            # highest-loss point so far, its gradient, loss and logits
    grad_best: torch.Tensor
    loss_best: torch.Tensor
    logits_best: torch.Tensor
    loss_history: torch.Tensor      # [n, steps + 1]; column t is the loss of iterate t, column 0 stays 0
    best_at_check: torch.Tensor     # best loss at the previous checkpoint
    halved_at_check: torch.Tensor   # whether the step was halved at the previous checkpoint
    target: torch.Tensor | None     # APGD-T: the class each sample is pushed towards


@register_attack("apgd-ce")
class APGD(Attack):
    """Auto-PGD with the cross-entropy loss.

    Without early stopping each restart returns its best-loss point (as the paper and
    ``APGDAttack.perturb(best_loss=True)`` do) and a sample keeps the restart whose point fools
    the model, else the one with the highest loss.

    Table 1 of Devaguptapu et al. calls it AutoPGD (AutoAttack's reports call it APGD-CE).
    """
    title = "AutoPGD"
    kind = "white-box"
    draws_random = True
    # Per-sample loss to maximise: (logits, labels, targets or None) -> [n].
    loss = staticmethod(losses.cross_entropy)

    def __init__(self, *, eps: float = 8 / 255, norm: str = "Linf", steps: int = 100, restarts: int = 10,
                 rho: float = 0.75, momentum: float = 0.75, eot_iter: int = 1, seed: int = 0, early_stop: bool = True,
                 batch_size: int | None = None) -> None:
        super().__init__(eps=eps, norm=norm, seed=seed, early_stop=early_stop, batch_size=batch_size)
        self.steps = positive_int(f"attack {self.name!r}", "steps", steps)
        self.restarts = positive_int(f"attack {self.name!r}", "restarts", restarts)
        self.eot_iter = positive_int(f"attack {self.name!r}", "eot_iter", eot_iter)
        self.rho = check_fraction(self.name, "rho", rho)
        # The paper's alpha: weight of the new step; the previous displacement gets 1 - momentum.
        self.momentum = check_fraction(self.name, "momentum", momentum, include_one=True)
        self._checkpoints = checkpoint_windows(self.steps)


    def _attack(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_init: torch.Tensor | None,
                gen: torch.Generator, outcome: Outcome, counter: QueryCounter, need_logits: bool) -> None:
        for restart in range(self.restarts):
            start = x_init if restart == 0 and x_init is not None else random_on_sphere(x, self.eps, self.norm, gen)
            active = points_to_search(model, x, y, outcome, counter, self.early_stop, first=restart == 0)
            if active.numel() == 0:
                return
            x_a = x[active]
            self._single_run(model, x_a, y[active], project_start(start[active], x_a, self.eps, self.norm), active,
                             outcome, counter)

    def _gradient(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None,
                  counter: QueryCounter) -> LossGradient:
        """The (EOT-averaged) input gradient; logits and loss of the last pass, as the official code."""
        def loss_fn(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            return self.loss(logits, labels, target)

        g = loss_gradient(model, x, y, counter, loss_fn)
        if self.eot_iter > 1:
            total = g.grad
            for _ in range(self.eot_iter - 1):
                g = loss_gradient(model, x, y, counter, loss_fn)
                total = total + g.grad
            g.grad = total / self.eot_iter
        return g

    def _single_run(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_start: torch.Tensor,
                    idx: torch.Tensor, outcome: Outcome, counter: QueryCounter,
                    target: torch.Tensor | None = None) -> None:
        """One restart; offers broken samples as they break (early stop) and best-loss points at the end."""
        g = self._gradient(model, x_start, y, target, counter)
        s = _ApgdState(idx=idx, x=x, y=y, x_adv=x_start, x_prev=x_start.clone(), grad=g.grad,
                       step=torch.full((x.shape[0],) + (1,) * (x.dim() - 1), 2 * self.eps, device=x.device,
                                       dtype=x.dtype),
                       x_best=x_start.clone(), grad_best=g.grad.clone(), loss_best=g.loss.clone(),
                       logits_best=g.logits.clone(),
                       loss_history=torch.zeros(x.shape[0], self.steps + 1, device=x.device, dtype=g.loss.dtype),
                       best_at_check=g.loss.clone(),
                       halved_at_check=torch.ones(x.shape[0], dtype=torch.bool, device=x.device), target=target)
        if self._drop_broken(s, g, outcome):
            return
        for i in range(self.steps):
            with torch.no_grad():
                displacement = s.x_adv - s.x_prev
                s.x_prev = s.x_adv
                weight = self.momentum if i > 0 else 1.0
                z = project(s.x_adv + s.step * ascent_direction(s.grad, self.norm), s.x, self.eps, self.norm)
                s.x_adv = project(s.x_adv + (z - s.x_adv) * weight + displacement * (1 - weight),
                                  s.x, self.eps, self.norm)
            g = self._gradient(model, s.x_adv, s.y, s.target, counter)
            if self._drop_broken(s, g, outcome):
                return
            s.grad = g.grad
            s.loss_history[:, i + 1] = g.loss
            improved = g.loss > s.loss_best
            s.x_best[improved] = s.x_adv[improved]
            s.grad_best[improved] = g.grad[improved]
            s.loss_best[improved] = g.loss[improved]
            s.logits_best[improved] = g.logits[improved]
            if i in self._checkpoints:
                self._checkpoint(s, i, self._checkpoints[i])
        outcome.offer(s.idx, s.x_best, s.logits_best, s.loss_best)

    def _drop_broken(self, s: _ApgdState, g: LossGradient, outcome: Outcome) -> bool:
        """In evaluation mode, offer the samples ``g`` shows misclassified and remove them (from ``g`` too).

        Returns True when no sample is left.
        """
        if not self.early_stop:
            return False
        broken = g.logits.argmax(1) != s.y
        if broken.any():
            outcome.offer(s.idx[broken], s.x_adv[broken], g.logits[broken], g.loss[broken])
            s.keep(~broken)
            g.logits, g.loss, g.grad = g.logits[~broken], g.loss[~broken], g.grad[~broken]
        return len(s) == 0

    def _checkpoint(self, s: _ApgdState, i: int, window: int) -> None:
        """Conditions (1) and (2) over the window ending at iteration ``i``; halve and restart flagged samples."""
        history = s.loss_history[:, i + 1 - window: i + 2]
        increases = (history[:, 1:] > history[:, :-1]).sum(1)
        oscillating = increases <= window * self.rho
        stalled = ~s.halved_at_check & (s.best_at_check >= s.loss_best)
        halve = oscillating | stalled
        s.halved_at_check = halve
        s.best_at_check = s.loss_best.clone()
        s.step[halve] /= 2.0
        s.x_adv[halve] = s.x_best[halve]
        s.grad[halve] = s.grad_best[halve]


@register_attack("apgd-dlr")
class APGDDLR(APGD):
    """APGD on the DLR loss (untargeted); AutoAttack+ runs it after APGD-CE."""
    title = "APGD-DLR"
    loss = staticmethod(losses.dlr)

    def __init__(self, *, eps: float = 8 / 255, norm: str = "Linf", steps: int = 100, restarts: int = 1,
                 rho: float = 0.75, momentum: float = 0.75, eot_iter: int = 1, seed: int = 0, early_stop: bool = True,
                 batch_size: int | None = None) -> None:
        super().__init__(eps=eps, norm=norm, steps=steps, restarts=restarts, rho=rho, momentum=momentum,
                         eot_iter=eot_iter, seed=seed, early_stop=early_stop, batch_size=batch_size)


@register_attack("apgd-t")
class APGDTargeted(APGD):
    """APGD-T: APGD on the targeted DLR loss, once per target among the ``n_target_classes`` classes the
    clean point ranks highest after its top class (AutoAttack: 9), each with ``restarts`` runs.

    As in the official ``APGDAttack_targeted``, each target run covers only the points still robust
    and success is untargeted (any wrong class). Without early stopping a point keeps, across targets,
    the first fooling point or else the highest-loss one.
    """
    title = "APGD-T"
    loss = staticmethod(losses.targeted_dlr)

    def __init__(self, *, eps: float = 8 / 255, norm: str = "Linf", steps: int = 100, restarts: int = 1,
                 n_target_classes: int = 9, rho: float = 0.75, momentum: float = 0.75, eot_iter: int = 1,
                 seed: int = 0, early_stop: bool = True, batch_size: int | None = None) -> None:
        super().__init__(eps=eps, norm=norm, steps=steps, restarts=restarts, rho=rho, momentum=momentum,
                         eot_iter=eot_iter, seed=seed, early_stop=early_stop, batch_size=batch_size)
        self.n_target_classes = positive_int(f"attack {self.name!r}", "n_target_classes", n_target_classes)

    def _attack(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_init: torch.Tensor | None,
                gen: torch.Generator, outcome: Outcome, counter: QueryCounter, need_logits: bool) -> None:
        clean_logits = forward(model, x, counter)
        losses.need_classes(clean_logits, 4, "targeted DLR")  # first: fewer target classes would not help
        if self.n_target_classes > clean_logits.shape[1] - 1:
            raise InvalidValueError(f"attack 'apgd-t': n_target_classes={self.n_target_classes} but the model has "
                                    f"only {clean_logits.shape[1] - 1} wrong classes; lower n_target_classes")
        ranking = clean_logits.argsort(dim=1)  # ascending: column -k is the k-th highest class
        first = True
        for k in range(2, self.n_target_classes + 2):
            for _ in range(self.restarts):
                start = x_init if first and x_init is not None else random_on_sphere(x, self.eps, self.norm, gen)
                active = points_to_search(model, x, y, outcome, counter, self.early_stop, first=first)
                first = False
                if active.numel() == 0:
                    return
                x_a = x[active]
                self._single_run(model, x_a, y[active], project_start(start[active], x_a, self.eps, self.norm),
                                 active, outcome, counter, target=ranking[active, -k])
