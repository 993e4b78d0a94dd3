"""FAB-T: the targeted Fast Adaptive Boundary attack (Croce & Hein, ICML 2020), Linf and L2.

FAB looks for the adversarial example of smallest norm. At the current iterate ``x1`` it
linearises the margin ``f = z_t - z_y`` towards the target class ``t``; the zero level of the
linearisation is a hyperplane. It projects both ``x1`` and the clean point ``x0`` onto that
hyperplane intersected with the box [0, 1] (minimal ``p``-norm displacements ``d1``, ``d2``) and
steps to a convex combination biased towards the clean point::

    alpha = min(||d1|| / (||d1|| + ||d2||), alpha_max)
    x1 <- clip((x1 + eta d1)(1 - alpha) + (x0 + eta d2) alpha, 0, 1)

When the new iterate is misclassified (any wrong class: success is untargeted, as in AutoAttack)
it is recorded if it is the smallest perturbation found, and the iterate is pulled back towards
the clean point, ``x1 <- x0 + beta (x1 - x0)``. As in AutoAttack's FAB-T, one run is made per
target among the ``n_target_classes`` classes the clean point ranks highest after its top class,
each with ``restarts`` runs: the first from the clean point, the others from a random point at
distance eps/2. A point counts as broken only when the perturbation found has norm <= eps; the
returned image of any other point is the clean one (so every returned image is in the threat set).
The default parameters are those of AutoAttack's standard version (100 iterations, 1 restart,
9 targets, alpha_max 0.1, eta 1.05, beta 0.9). Each iteration costs two queries per point, a
gradient of the margin and a forward pass at the new iterate, as in the official code.

Projection onto ``{z : <w, z> = b} ∩ [0, 1]^n`` (the official code's ``fab_projections``): after
flipping the sign of ``w`` so that the point ``t`` lies on the positive side (``c = <w, t> - b >= 0``),
the minimiser moves each coordinate against ``sign(w_i)`` by ``min(lam, room_i)`` (Linf) or
``min(lam |w_i|, room_i)`` (L2), where ``room_i`` is the distance to the box face in that direction.
The decrease of ``<w, .>`` this buys, ``sum_i v_i min(lam, r_i)``, is piecewise linear and
non-decreasing in ``lam`` (Linf: ``v = |w|``, ``r = room``; L2: ``v = w^2``, ``r = room / |w|``),
so one batched sort, cumulative sums and a ``searchsorted`` find the ``lam`` that closes the gap
``c`` exactly. If no point of the box reaches the hyperplane every coordinate goes to its face.
As in the official code, L2 treats weights below 1e-8 in magnitude as zero.

Departures from the official code (``pyautoattack/fab_base.py``, ``fab_pt.py``):

* evaluation mode (``early_stop=True``) drops a point at its first misclassified iterate inside
  the eps ball; the official run goes on shrinking the perturbation. Per-sample trajectories do not
  depend on the batch, so which points end up broken is the same; the returned image may be a
  larger (still <= eps) perturbation than the official minimum;
* ``early_stop=False`` runs every target on every clean-correct point (the official loop skips
  points an earlier target broke) and keeps the smallest in-ball perturbation over all of them;
* ``x_init`` replaces the clean start of the first run (the official code has no such input);
* the L1 version is not provided (the threat models here are Linf and L2); targets are taken from
  one clean forward pass for the whole chunk rather than one per target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from robnas.attacks.base import Attack
from robnas.attacks.checks import check_fraction, check_positive
from robnas.attacks.gradient import QueryCounter, forward, loss_gradient
from robnas.attacks.outcome import Outcome
from robnas.attacks.registry import register_attack
from robnas.attacks.state import SampleState
from robnas.attacks.threat import perturbation_norm, project_start, random_on_sphere
from robnas.checks import positive_int
from robnas.errors import InvalidValueError

# Weights below this magnitude count as zero in the L2 projection (the official code's threshold):
# their breakpoints room / |w| would overflow and they cannot move <w, .> anyway.
_L2_ZERO_WEIGHT = 1e-8
# Floor on the projection lengths in the step's bias alpha (official value), so a point already on
# the linearised boundary does not divide 0 by 0.
_MIN_LENGTH = 1e-8


def _water_level(v: torch.Tensor, r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Per row, the smallest ``lam >= 0`` with ``sum_i v_i * min(lam, r_i) == c``.

    ``v, r >= 0`` are ``[n, d]``, ``c >= 0`` is ``[n]``. Where even ``lam = max_i r_i`` falls short
    (the box does not reach the hyperplane) that maximum is returned, which saturates every coordinate.
    """
    r_sorted, order = r.sort(dim=1)
    v_sorted = v.gather(1, order)
    # Weight of the coordinates not yet saturated at each breakpoint: sum over j > k of v_j.
    from_k = v_sorted.flip(1).cumsum(1).flip(1)
    beyond = torch.cat([from_k[:, 1:], torch.zeros_like(from_k[:, :1])], dim=1)
    # Value of the sum at lam = r_k; cummax only irons out rounding (it is non-decreasing in exact arithmetic).
    at_break = ((v_sorted * r_sorted).cumsum(1) + r_sorted * beyond).cummax(dim=1).values
    passed = torch.searchsorted(at_break, c.unsqueeze(1).contiguous(), right=True).squeeze(1)  # breakpoints <= c
    last = (passed - 1).clamp(min=0).unsqueeze(1)
    r_last = r_sorted.gather(1, last).squeeze(1)
    rest = beyond.gather(1, last).squeeze(1)
    within = r_last + (c - at_break.gather(1, last).squeeze(1)) / rest  # on the segment after breakpoint `last`
    before_first = c / from_k[:, 0]                                      # no coordinate saturated yet
    lam = torch.where(passed == 0, before_first, torch.where(rest > 0, within, r_last))
    # All-zero weights (0 / 0): nothing can move, the displacement is zero whatever lam is.
    return torch.nan_to_num(lam, nan=0.0, posinf=0.0)


def project_to_boundary(t: torch.Tensor, w: torch.Tensor, c: torch.Tensor, norm: str) -> torch.Tensor:
    """Displacement ``d`` of smallest ``norm`` with ``<w, t + d> = <w, t> - c`` and ``t + d`` in [0, 1].

    ``t`` and ``w`` are flat ``[n, d]`` rows (``t`` in [0, 1]), ``c = <w, t> - b`` is ``[n]``: the value
    at ``t`` of the affine function whose zero set is the hyperplane. When the box does not reach the
    hyperplane, ``t + d`` is the box corner closest to it.
    """
    side = torch.where(c >= 0, 1.0, -1.0).to(w.dtype).unsqueeze(1)
    w, c = w * side, c.abs()
    direction = -torch.sign(w)                      # decreasing <w, .> moves every coordinate against w
    room = torch.where(w > 0, t, 1.0 - t)           # distance to the box face along `direction`
    if norm == "Linf":
        lam = _water_level(w.abs(), room, c)
        return direction * torch.minimum(lam.unsqueeze(1), room)
    magnitude = w.abs()
    live = magnitude >= _L2_ZERO_WEIGHT
    safe = torch.where(live, magnitude, torch.ones_like(magnitude))
    v = torch.where(live, magnitude.square(), torch.zeros_like(magnitude))
    lam = _water_level(v, torch.where(live, room / safe, torch.zeros_like(room)), c)
    return torch.where(live, direction * torch.minimum(lam.unsqueeze(1) * magnitude, room), torch.zeros_like(t))


def _targeted_margin(target: torch.Tensor) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``z_t - z_y``: negative while the true class beats the target, zero on their decision boundary."""
    def margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return logits.gather(1, target.unsqueeze(1)).squeeze(1) - logits.gather(1, y.unsqueeze(1)).squeeze(1)
    return margin


@dataclass
class _FabState(SampleState):
    x0: torch.Tensor       # clean points
    y: torch.Tensor
    target: torch.Tensor
    x1: torch.Tensor       # current iterate


@register_attack("fab-t")
class FABTargeted(Attack):
    """Targeted FAB with eps as the success threshold (AutoAttack's FAB-T).

    ``loss`` offered to the outcome is minus the perturbation norm, so that across iterates,
    restarts and targets a point keeps its smallest in-ball adversarial perturbation.
    """
    title = "FAB-T"
    kind = "white-box"

    def __init__(self, *, eps: float = 8 / 255, norm: str = "Linf", steps: int = 100, restarts: int = 1,
                 n_target_classes: int = 9, alpha_max: float = 0.1, eta: float = 1.05, beta: float = 0.9,
                 seed: int = 0, early_stop: bool = True, batch_size: int | None = None) -> None:
        super().__init__(eps=eps, norm=norm, seed=seed, early_stop=early_stop, batch_size=batch_size)
        self.steps = positive_int(f"attack {self.name!r}", "steps", steps)
        self.restarts = positive_int(f"attack {self.name!r}", "restarts", restarts)
        self.n_target_classes = positive_int(f"attack {self.name!r}", "n_target_classes", n_target_classes)
        self.alpha_max = check_fraction(self.name, "alpha_max", alpha_max, include_one=True)
        self.eta = check_positive(self.name, "eta (overshoot)", eta)
        self.beta = check_fraction(self.name, "beta", beta)

    @property
    def is_random(self) -> bool:
        return self.restarts > 1  # only restarts after the first start at a random point

    def _attack(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_init: torch.Tensor | None,
                gen: torch.Generator, outcome: Outcome, counter: QueryCounter, need_logits: bool) -> None:
        clean_logits = forward(model, x, counter)
        wrong_classes = clean_logits.shape[1] - 1
        if self.n_target_classes > wrong_classes:
            raise InvalidValueError(f"attack 'fab-t': n_target_classes={self.n_target_classes} but the model has "
                                    f"only {wrong_classes} wrong class(es); lower n_target_classes")
        all_idx = torch.arange(x.shape[0], device=x.device)
        # Every point first gets its clean image (perturbation norm 0): kept by misclassified points and
        # by those no in-ball adversarial example is found for. Misclassified points are never attacked.
        outcome.offer(all_idx, x, clean_logits, torch.zeros(x.shape[0], device=x.device, dtype=x.dtype))
        correct = all_idx[clean_logits.argmax(1) == y]
        ranking = clean_logits.sort(dim=1).indices  # ascending: column -k is the k-th highest class
        first = True
        for k in range(2, self.n_target_classes + 2):
            for restart in range(self.restarts):
                if first and x_init is not None:
                    start = project_start(x_init, x, self.eps, self.norm)
                elif restart == 0:
                    start = x
                else:
                    start = random_on_sphere(x, self.eps / 2, self.norm, gen).clamp(0.0, 1.0)
                first = False
                active = outcome.robust_indices() if self.early_stop else correct
                if active.numel() == 0:
                    return
                self._single_run(model, _FabState(idx=active, x0=x[active], y=y[active],
                                                  target=ranking[active, -k], x1=start[active]), outcome, counter)

    def _single_run(self, model: nn.Module, s: _FabState, outcome: Outcome, counter: QueryCounter) -> None:
        """``steps`` FAB iterations; offers every misclassified iterate inside the eps ball as it appears."""
        for _ in range(self.steps):
            g = loss_gradient(model, s.x1, s.y, counter, _targeted_margin(s.target))
            with torch.no_grad():
                n = s.x1.shape[0]
                w = g.grad.flatten(1)
                x1, x0 = s.x1.flatten(1), s.x0.flatten(1)
                # The linearised margin is g.loss + <w, z - x1>; its value at x0 adds <w, x0 - x1>.
                d = project_to_boundary(torch.cat([x1, x0]), torch.cat([w, w]),
                                        torch.cat([g.loss, g.loss + (w * (x0 - x1)).sum(1)]), self.norm)
                lengths = perturbation_norm(d, self.norm).clamp(min=_MIN_LENGTH)
                alpha = (lengths[:n] / (lengths[:n] + lengths[n:])).clamp(max=self.alpha_max).unsqueeze(1)
                x1 = ((x1 + self.eta * d[:n]) * (1 - alpha) + (x0 + self.eta * d[n:]) * alpha).clamp(0.0, 1.0)
                s.x1 = x1.view_as(s.x0)
            logits = forward(model, s.x1, counter)
            with torch.no_grad():
                fooled = logits.argmax(1) != s.y
                distance = perturbation_norm(s.x1 - s.x0, self.norm)
                found = fooled & (distance <= self.eps)
                if found.any():
                    outcome.offer(s.idx[found], s.x1[found], logits[found], -distance[found])
                # Past the boundary: step back towards the clean point to look for a smaller perturbation.
                pull = fooled.view(-1, *([1] * (s.x1.dim() - 1)))
                s.x1 = torch.where(pull, s.x0 + (s.x1 - s.x0) * self.beta, s.x1)
                if self.early_stop and found.any():
                    s.keep(~found)
                    if len(s) == 0:
                        return
