"""Carlini & Wagner's L2 attack (Carlini & Wagner 2017) and the base class of minimum-norm attacks.

C&W minimises ``||x' - x||_2^2 + c * f(x')`` with Adam over ``w``, where ``x' = (tanh(w) + 1) / 2``
(the change of variable keeps ``x'`` in [0, 1] without clipping) and
``f(x') = max(z_y - max_{i != y} z_i, -kappa)`` is the margin of the true class. Among the iterates
that fool the model (by at least ``kappa``), the one closest to ``x`` in L2 is kept. Defaults follow
RNAS' protocol (c = 0.5, 100 iterations, one value of c, no norm bound), which is torchattacks' CW.

Departures from Carlini's code and torchattacks, and why:

* The "largest other logit" masks the true class with -inf. torchattacks multiplies the logits by
  ``1 - one_hot(y)``, which puts a 0 in place of ``z_y``; when every logit is negative that 0 is the
  maximum, ``f`` becomes the constant 0 and the attack never moves (its robust accuracy is then the
  clean accuracy). Logits are only defined up to an additive constant, so this matters.
* No "abort early": Carlini's code and torchattacks stop the whole batch when the batch's total loss
  stops decreasing, which makes a sample's result depend on the other samples of its batch. Here
  every sample gets ``steps`` Adam steps per value of c.
* The start ``w = arctanh((2x - 1) * (1 - 1e-6))`` shrinks by 1e-6 as Carlini's code does (pixels at
  0 or 1 would map to +-inf; torchattacks lets them become infinite and freezes them). Distances
  are measured to the original ``x``.
* ``eps``: C&W has no norm bound (``eps = inf``, the default). With a finite ``eps`` the kept point is
  projected onto the L2 ball of radius ``eps`` and success is reported on the projected point; in
  evaluation mode a sample stops as soon as an iterate inside the ball fools the model.
* A sample for which no iterate fools the model gets its clean image back (as in both references).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from robnas.attacks.base import Attack, points_to_search
from robnas.attacks.checks import check_non_negative, check_positive, check_radius_or_inf
from robnas.attacks.gradient import QueryCounter, forward
from robnas.attacks.outcome import Outcome
from robnas.attacks.registry import register_attack
from robnas.attacks.state import SampleState
from robnas.attacks.threat import perturbation_norm, project, project_start
from robnas.checks import positive_int

# Carlini's code shrinks images by this factor before arctanh, so that pixels at 0 and 1 stay finite in w.
_SHRINK = 1 - 1e-6
# Carlini's binary search starts with an upper bound of 1e10 on c and reads any bound >= 1e9 as
# "no success yet" (then c grows tenfold instead of bisecting).
_NO_UPPER = 1e10
_NO_SUCCESS_YET = 1e9


def _broadcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-sample ``[N]`` tensor shaped ``[N, 1, ..., 1]`` to broadcast against ``like``."""
    return v.view(-1, *([1] * (like.dim() - 1)))


class MinimumNormAttack(Attack):
    """An attack that searches for the smallest perturbation that fools the model.

    ``eps = inf`` (the default) leaves the perturbation unbounded. A finite ``eps`` bounds the
    answer: the attack still runs unbounded, and its final point is projected into the eps-ball
    (intersected with [0, 1]), where success is then measured.
    """
    kind = "white-box"

    def __init__(self, *, eps: float = math.inf, norm: str, seed: int = 0, early_stop: bool = True,
                 batch_size: int | None = None) -> None:
        radius = check_radius_or_inf(self.name, eps)
        # Attack.__init__ validates eps as a finite radius; an unbounded radius is checked above and set after.
        super().__init__(eps=radius if math.isfinite(radius) else 0.0, norm=norm, seed=seed, early_stop=early_stop,
                         batch_size=batch_size)
        self.eps = radius

    def inside(self, x_adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Per-sample: whether ``x_adv`` lies in the eps-ball around ``x`` (always, when unbounded)."""
        if math.isinf(self.eps):
            return torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
        return perturbation_norm(x_adv - x, self.norm) <= self.eps

    def start(self, x: torch.Tensor, x_init: torch.Tensor | None) -> torch.Tensor:
        """The first iterate: ``x``, or an injected start moved into the threat set."""
        if x_init is None:
            return x
        if math.isinf(self.eps):
            return x_init.clamp(0.0, 1.0)
        return project_start(x_init, x, self.eps, self.norm)

    def settle(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor, x_adv: torch.Tensor,
               logits: torch.Tensor | None, outcome: Outcome, counter: QueryCounter) -> None:
        """Offer final points ``x_adv`` for samples ``idx``, projected into the ball when eps is finite.

        ``logits`` are the model's outputs at ``x_adv`` (None: not computed); points without them,
        and every point the projection moved, are evaluated so success is that of the offered point.
        """
        if idx.numel() == 0:
            return
        stale = ~self.inside(x_adv, x)
        if stale.any():
            x_adv = torch.where(_broadcast(stale, x), project(x_adv, x, self.eps, self.norm), x_adv)
        if logits is None:
            logits = forward(model, x_adv, counter)
        elif stale.any():
            logits = logits.clone()
            logits[stale] = forward(model, x_adv[stale], counter)
        outcome.offer(idx, x_adv, logits, F.cross_entropy(logits, y, reduction="none"))


def true_class_margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``z_y - max_{i != y} z_i`` per sample (negative when the model is fooled).

    The true class is masked with -inf, not zeroed by a one-hot product: a zeroed entry would
    win the max whenever all logits are negative.
    """
    true = logits.gather(1, y[:, None]).squeeze(1)
    others = logits.masked_fill(F.one_hot(y, logits.shape[1]).bool(), -torch.inf)
    return true - others.amax(1)


def to_box(w: torch.Tensor) -> torch.Tensor:
    """C&W's change of variable: any real ``w`` maps into [0, 1]."""
    return (torch.tanh(w) + 1) / 2


def from_box(x: torch.Tensor) -> torch.Tensor:
    """A finite ``w`` with ``to_box(w)`` equal to ``x`` up to the 1e-6 shrink."""
    return torch.atanh((2 * x - 1) * _SHRINK)


def adam_step(param: torch.Tensor, grad: torch.Tensor, first: torch.Tensor, second: torch.Tensor, t: int,
              lr: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Adam step number ``t`` (from 1): the new parameter and moments.

    Written out rather than torch.optim.Adam so that the moments can shrink with the batch when
    samples leave; the arithmetic is that of torch's single-tensor Adam (betas 0.9, 0.999; eps 1e-8).
    """
    beta1, beta2 = 0.9, 0.999
    first = first.lerp(grad, 1 - beta1)
    second = second * beta2 + (1 - beta2) * grad * grad
    denom = second.sqrt() / math.sqrt(1 - beta2 ** t) + 1e-8
    return param - (lr / (1 - beta1 ** t)) * first / denom, first, second


@dataclass
class _Search(SampleState):
    """Per-sample state of the C&W search: the binary search over c and the best point so far."""

    x: torch.Tensor
    y: torch.Tensor
    w_start: torch.Tensor
    c: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor
    best_dist: torch.Tensor  # squared L2 distance of the kept point (inf: none yet)
    best_x: torch.Tensor
    best_logits: torch.Tensor
    w: torch.Tensor
    adam_first: torch.Tensor
    adam_second: torch.Tensor
    hit: torch.Tensor  # whether an iterate of the current value of c fooled the model


@register_attack("cw")
class CarliniWagnerL2(MinimumNormAttack):
    """C&W L2: Adam in tanh space on ``||x' - x||^2 + c * max(z_y - max_{i != y} z_i, -kappa)``.

    ``search_steps = 1`` runs once at ``c``; more steps run Carlini's per-sample binary search
    (halve towards the last success, multiply c by 10 while nothing succeeds), restarting from
    ``x`` for every value of c and keeping the closest fooling point over all of them.
    """
    title = "C&W"
    norms = ("L2",)

    def __init__(self, *, eps: float = math.inf, norm: str = "L2", c: float = 0.5, kappa: float = 0.0,
                 steps: int = 100, lr: float = 0.01, search_steps: int = 1, seed: int = 0, early_stop: bool = True,
                 batch_size: int | None = None) -> None:
        super().__init__(eps=eps, norm=norm, seed=seed, early_stop=early_stop, batch_size=batch_size)
        self.c = check_positive(self.name, "c", c)
        self.kappa = check_non_negative(self.name, "kappa", kappa)
        self.steps = positive_int(f"attack {self.name!r}", "steps", steps)
        self.lr = check_positive(self.name, "lr", lr)
        self.search_steps = positive_int(f"attack {self.name!r}", "search_steps", search_steps)

    def _attack(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_init: torch.Tensor | None,
                gen: torch.Generator, outcome: Outcome, counter: QueryCounter, need_logits: bool) -> None:
        active = points_to_search(model, x, y, outcome, counter, self.early_stop)
        if active.numel() == 0:
            return
        x_a = x[active]
        zeros = torch.zeros(active.shape[0], device=x.device, dtype=x.dtype)
        w_clean = from_box(x_a)
        s = _Search(idx=active, x=x_a, y=y[active], w_start=w_clean, c=zeros + self.c, lower=zeros.clone(),
                    upper=zeros + _NO_UPPER, best_dist=zeros + torch.inf, best_x=x_a.clone(),
                    best_logits=x_a.new_zeros(active.shape[0], 0), w=w_clean, adam_first=torch.zeros_like(x_a),
                    adam_second=torch.zeros_like(x_a), hit=zeros.bool())
        if x_init is not None:  # the first value of c starts from the injected point
            s.w = from_box(self.start(x_a, x_init[active]))
        for search in range(self.search_steps):
            if search > 0:  # every further value of c restarts from x with fresh Adam moments
                s.w = s.w_start
                s.adam_first, s.adam_second = torch.zeros_like(s.w), torch.zeros_like(s.w)
                s.hit = torch.zeros_like(s.hit)
            self._descend(model, s, outcome, counter)
            if len(s) == 0:
                return
            self._update_c(s)
        fooled = s.best_dist < torch.inf
        self.settle(model, s.x[fooled], s.y[fooled], s.idx[fooled], s.best_x[fooled], s.best_logits[fooled], outcome,
                    counter)
        self.settle(model, s.x[~fooled], s.y[~fooled], s.idx[~fooled], s.x[~fooled], None, outcome, counter)

    def _descend(self, model: nn.Module, s: _Search, outcome: Outcome, counter: QueryCounter) -> None:
        """``steps`` Adam steps at the samples' current c, keeping the closest fooling iterate."""
        for t in range(1, self.steps + 1):
            counter.add(s.w)
            w = s.w.detach().requires_grad_(True)
            with torch.enable_grad():
                x_adv = to_box(w)
                logits = model(x_adv)
                dist = (x_adv - s.x).pow(2).flatten(1).sum(1)
                margin = true_class_margin(logits, s.y)
                loss = dist + s.c * margin.clamp(min=-self.kappa)
                (grad,) = torch.autograd.grad(loss.sum(), [w])
            x_adv, logits, dist, margin = x_adv.detach(), logits.detach(), dist.detach(), margin.detach()
            reached = (logits.argmax(1) != s.y) & (margin <= -self.kappa)
            s.hit |= reached
            closer = reached & (dist < s.best_dist)
            if s.best_logits.shape[1] == 0:  # the number of classes is known from the first forward
                s.best_logits = torch.zeros_like(logits)
            s.best_dist = torch.where(closer, dist, s.best_dist)
            s.best_x = torch.where(_broadcast(closer, s.x), x_adv, s.best_x)
            s.best_logits = torch.where(closer[:, None], logits, s.best_logits)
            if self.early_stop:
                done = reached & self.inside(x_adv, s.x)
                if done.any():
                    outcome.offer(s.idx[done], x_adv[done], logits[done],
                                  F.cross_entropy(logits[done], s.y[done], reduction="none"))
                    s.keep(~done)
                    grad = grad[~done]
                    if len(s) == 0:
                        return
            s.w, s.adam_first, s.adam_second = adam_step(s.w, grad, s.adam_first, s.adam_second, t, self.lr)

    @staticmethod
    def _update_c(s: _Search) -> None:
        """Carlini's binary search: a success lowers the upper bound, a failure raises the lower one;
        c moves to the middle, or grows tenfold while no value of c has succeeded yet."""
        s.upper = torch.where(s.hit, torch.minimum(s.upper, s.c), s.upper)
        s.lower = torch.where(s.hit, s.lower, torch.maximum(s.lower, s.c))
        s.c = torch.where(s.upper < _NO_SUCCESS_YET, (s.lower + s.upper) / 2, s.c * 10)
