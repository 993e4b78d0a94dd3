"""DeepFool (Moosavi-Dezfooli et al. 2016), L2 and Linf, batched.

At each iterate DeepFool linearises the classifier around ``x_i``: for every candidate class k it
takes ``f_k = z_k - z_y`` and ``w_k = grad f_k``, picks the class whose linearised boundary is
nearest, ``l = argmin_k |f_k| / ||w_k||_q`` (q the dual norm: 2 for L2, 1 for Linf), and steps just
onto that boundary: ``r = |f_l| / ||w_l||_2^2 * w_l`` (L2) or ``r = |f_l| / ||w_l||_1 * sign(w_l)``
(Linf). A sample stops, and leaves the batch, at its first misclassified iterate.

The candidate classes are the true class and the ``candidates - 1`` other classes with the
largest logits at the start, ranked once as in the official code. Their Jacobian is taken for the
whole batch with one backward pass per candidate class.

Departures, and why:

* Overshoot is applied to every step, ``x_{i+1} = clip(x_i + (1 + overshoot) * r_i, 0, 1)``, as in
  torchattacks. The paper scales the total perturbation by ``1 + overshoot`` and the official code
  recomputes ``x_0 + (1 + overshoot) * sum r_i`` without clipping; here iterates must stay in
  [0, 1], and accumulating unclipped steps would hide perturbation in saturated pixels.
* Each step is 1e-4 longer than the distance to the linearised boundary, as in the official code
  (torchattacks omits it: on 8x8 digits about 30% of its samples then stall on exact, or 1-ulp,
  ties between the true class and another, where the step length |f_l| / ||w_l|| is 0).
* The true label, not the clean prediction, is the class to move away from (misclassified clean
  points are returned unchanged).
* ``eps``: DeepFool has no norm bound (``eps = inf``, the default). With a finite ``eps`` the final
  point is projected into the eps-ball and success is reported on the projected point.
* ``early_stop`` changes nothing: DeepFool always stops a sample at its first fooling iterate.

Cost: a step on a sample is ``candidates - 1`` queries (one forward-backward per candidate class
other than the true one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from robnas.attacks.base import screen_clean
from robnas.attacks.checks import check_non_negative
from robnas.attacks.cw import MinimumNormAttack
from robnas.attacks.gradient import QueryCounter
from robnas.attacks.outcome import Outcome
from robnas.attacks.registry import register_attack
from robnas.attacks.state import SampleState
from robnas.attacks.threat import ascent_direction
from robnas.checks import positive_int
from robnas.errors import InvalidValueError

# Added to a dual norm before dividing by it: a zero gradient difference gives an infinite distance, not NaN.
_TINY = 1e-12
# The official code lengthens every step by 1e-4: an iterate that lands exactly on a tie between the
# true class and another (|f| = 0) would otherwise take zero steps forever.
_NUDGE = 1e-4


@dataclass
class _Walk(SampleState):
    x: torch.Tensor
    y: torch.Tensor
    x_adv: torch.Tensor
    classes: torch.Tensor  # [N, K]: the true class first, then the other candidates


def candidate_classes(logits: torch.Tensor, y: torch.Tensor, count: int) -> torch.Tensor:
    """``[N, count]``: ``y`` followed by the ``count - 1`` other classes with the largest logits."""
    others = logits.scatter(1, y[:, None], -torch.inf).topk(count - 1, dim=1).indices
    return torch.cat([y[:, None], others], dim=1)


@register_attack("deepfool")
class DeepFool(MinimumNormAttack):
    """Minimum-norm attack by successive linearisation of the decision boundaries (L2 or Linf)."""
    title = "DeepFool"
    norms = ("L2", "Linf")

    def __init__(self, *, eps: float = math.inf, norm: str = "L2", steps: int = 50, overshoot: float = 0.02,
                 candidates: int = 10, seed: int = 0, early_stop: bool = True, batch_size: int | None = None) -> None:
        super().__init__(eps=eps, norm=norm, seed=seed, early_stop=early_stop, batch_size=batch_size)
        self.steps = positive_int(f"attack {self.name!r}", "steps", steps)
        self.overshoot = check_non_negative(self.name, "overshoot", overshoot)
        self.candidates = positive_int(f"attack {self.name!r}", "candidates", candidates)
        if self.candidates < 2:
            raise InvalidValueError(f"attack 'deepfool': candidates must be >= 2 (the true class and at least one "
                                    f"other), got {candidates!r}")

    def _attack(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_init: torch.Tensor | None,
                gen: torch.Generator, outcome: Outcome, counter: QueryCounter, need_logits: bool) -> None:
        if self.early_stop and x_init is not None:
            active = screen_clean(model, x, y, outcome, counter)  # the first iterate is not the clean point
            if active.numel() == 0:
                return
        else:
            active = torch.arange(x.shape[0], device=x.device)
        x_a = x[active]
        s = _Walk(idx=active, x=x_a, y=y[active], x_adv=self.start(x_a, None if x_init is None else x_init[active]),
                  classes=y[active, None])  # ranked at the first iterate, below
        for step in range(self.steps):
            leaf = s.x_adv.detach().requires_grad_(True)
            counter.add(leaf)
            with torch.enable_grad():
                logits = model(leaf)
            if step == 0:
                s.classes = candidate_classes(logits.detach(), s.y, min(self.candidates, logits.shape[1]))
            fooled = logits.detach().argmax(1) != s.y
            if fooled.any():
                self.settle(model, s.x[fooled], s.y[fooled], s.idx[fooled], s.x_adv[fooled], logits.detach()[fooled],
                            outcome, counter)
            if fooled.all():
                return
            kept = ~fooled
            step_r = self._step(leaf, logits, s.classes, kept, counter)
            s.keep(kept)
            s.x_adv = (s.x_adv + (1 + self.overshoot) * step_r).clamp(0.0, 1.0)
        self.settle(model, s.x, s.y, s.idx, s.x_adv, None, outcome, counter)  # the last step's point is unevaluated

    def _step(self, leaf: torch.Tensor, logits: torch.Tensor, classes: torch.Tensor, kept: torch.Tensor,
              counter: QueryCounter) -> torch.Tensor:
        """DeepFool's step to the nearest linearised boundary, for the rows ``kept`` of the batch."""
        z = logits[kept].gather(1, classes[kept])
        f = (z[:, 1:] - z[:, :1])  # [n, K-1]: <= 0 while the true class wins
        rows = []
        for k in range(f.shape[1]):  # one backward per candidate class, over the whole batch
            if k > 0:  # the forward and the first backward count as one query, every further backward as one more
                counter.add(f)
            (g,) = torch.autograd.grad(f[:, k].sum(), [leaf], retain_graph=k + 1 < f.shape[1])
            rows.append(g[kept])
        w = torch.stack(rows, dim=1)  # [n, K-1, *image]
        f = f.detach().abs()
        w_flat = w.flatten(2)
        dual = w_flat.norm(dim=2) if self.norm == "L2" else w_flat.abs().sum(2)
        distance = f / (dual + _TINY)
        nearest = distance.argmin(1)
        pick = torch.arange(w.shape[0], device=w.device)
        length = distance[pick, nearest] + _NUDGE
        return length.view(-1, *([1] * (w.dim() - 2))) * ascent_direction(w[pick, nearest], self.norm)
