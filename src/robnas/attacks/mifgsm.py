"""MI-FGSM (Dong et al. 2018): iterative FGSM whose direction is a momentum of normalised gradients.

``g_{t+1} = decay * g_t + grad_t / ||grad_t||_1`` and ``x_{t+1} = Proj(x_t + alpha * d(g_{t+1}))`` with
``d`` the sign (Linf) or the L2-normalised vector (L2, the paper's L2 variant). Defaults are the
paper's: decay 1.0, 10 iterations, ``alpha = eps / steps``, starting at the clean image.

It is :class:`FixedStepAttack` (start, restarts, evaluation-mode screening, projection) with the
momentum carried through the ascent loop. The gradient is divided by its mean absolute value,
as torchattacks does: that is ``||grad||_1 / D`` for every step, so the momentum is the paper's
times the constant D and every sign, and every L2 direction, is the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from robnas.attacks.checks import check_non_negative
from robnas.attacks.gradient import QueryCounter, cross_entropy_gradient, forward
from robnas.attacks.outcome import Outcome
from robnas.attacks.registry import register_attack
from robnas.attacks.state import Iterates, retire_broken
from robnas.attacks.stepping import FixedStepAttack
from robnas.attacks.threat import ascent_direction, project


@dataclass
class _MomentumIterates(Iterates):
    momentum: torch.Tensor


@register_attack("mifgsm")
class MIFGSM(FixedStepAttack):
    """Momentum iterative FGSM from the clean image (deterministic)."""
    title = "MI-FGSM"

    def __init__(self, *, eps: float = 8 / 255, norm: str = "Linf", alpha: float | None = None, steps: int = 10,
                 decay: float = 1.0, seed: int = 0, early_stop: bool = True, batch_size: int | None = None) -> None:
        super().__init__(eps=eps, norm=norm, alpha=alpha, steps=steps, restarts=1, random_start=False, seed=seed,
                         early_stop=early_stop, batch_size=batch_size)
        self.decay = check_non_negative(self.name, "decay", decay)
        if alpha is None:  # the paper's alpha = eps / T (so T sign steps just reach the Linf sphere)
            self.alpha = self.eps / self.steps

    def _ascend(self, model: nn.Module, s: Iterates, outcome: Outcome, counter: QueryCounter,
                need_logits: bool) -> None:
        """FixedStepAttack's ascent with the momentum as the direction; broken samples leave as they break."""
        m = _MomentumIterates(idx=s.idx, x=s.x, y=s.y, x_adv=s.x_adv, momentum=torch.zeros_like(s.x_adv))
        for _ in range(self.steps):
            g = cross_entropy_gradient(model, m.x_adv, m.y, counter)
            grad = retire_broken(g, m, outcome) if self.early_stop else g.grad
            if grad is None:  # every sample broke
                return
            # A zero gradient stays zero (clamp) instead of becoming NaN.
            scale = grad.abs().mean(dim=tuple(range(1, grad.dim())), keepdim=True).clamp_min(1e-12)
            m.momentum = grad / scale + self.decay * m.momentum
            m.x_adv = project(m.x_adv + self.step_size * ascent_direction(m.momentum, self.norm), m.x, self.eps,
                              self.norm)
        if self.early_stop or need_logits:
            logits = forward(model, m.x_adv, counter)
            outcome.offer(m.idx, m.x_adv, logits, F.cross_entropy(logits, m.y, reduction="none"))
        else:
            outcome.place(m.idx, m.x_adv)
