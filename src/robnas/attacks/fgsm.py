"""Single-step attacks (Linf): FGSM (Goodfellow et al.), F-FGSM (Wong et al.) and R-FGSM (Tramer et al.).

Each is one step of :class:`FixedStepAttack` with its own start and step size.
"""

from __future__ import annotations

import torch

from robnas.attacks.registry import register_attack
from robnas.attacks.stepping import FixedStepAttack
from robnas.errors import InvalidValueError
from robnas.rng import uniform


class _SingleStep(FixedStepAttack):
    norms = ("Linf",)

    def __init__(self, *, eps: float, norm: str, alpha: float | None, random_start: bool, seed: int,
                 early_stop: bool, batch_size: int | None) -> None:
        super().__init__(eps=eps, norm=norm, alpha=alpha, steps=1, restarts=1, random_start=random_start,
                         seed=seed, early_stop=early_stop, batch_size=batch_size)


@register_attack("fgsm")
class FGSM(_SingleStep):
    """Fast gradient sign method: ``x + eps * sign(grad)``, clipped into [0, 1]."""
    title = "FGSM"

    def __init__(self, *, eps: float = 8 / 255, norm: str = "Linf", seed: int = 0, early_stop: bool = True,
                 batch_size: int | None = None) -> None:
        super().__init__(eps=eps, norm=norm, alpha=None, random_start=False, seed=seed, early_stop=early_stop,
                         batch_size=batch_size)

    def default_alpha(self) -> float:
        return self.eps


@register_attack("ffgsm")
class FFGSM(_SingleStep):
    """Wong et al.'s fast FGSM: a uniform random start in the eps-ball, one sign step of ``alpha``
    (default 1.25 * eps, as in their paper and torchattacks' FFGSM), then projection onto the ball.
    The start is PGD's Linf start (uniform noise in [-eps, eps] per pixel)."""
    title = "F-FGSM"

    def __init__(self, *, eps: float = 8 / 255, norm: str = "Linf", alpha: float | None = None, seed: int = 0,
                 early_stop: bool = True, batch_size: int | None = None) -> None:
        super().__init__(eps=eps, norm=norm, alpha=alpha, random_start=True, seed=seed, early_stop=early_stop,
                         batch_size=batch_size)

    def default_alpha(self) -> float:
        return 1.25 * self.eps


@register_attack("rfgsm")
class RFGSM(_SingleStep):
    """Tramer et al.'s R+FGSM: a random sign step of ``alpha`` (default eps/2, their choice), then a
    gradient sign step of ``eps - alpha``. Single step, unlike torchattacks' iterative RFGSM."""
    title = "R-FGSM"

    def __init__(self, *, eps: float = 8 / 255, norm: str = "Linf", alpha: float | None = None, seed: int = 0,
                 early_stop: bool = True, batch_size: int | None = None) -> None:
        super().__init__(eps=eps, norm=norm, alpha=alpha, random_start=True, seed=seed, early_stop=early_stop,
                         batch_size=batch_size)
        if self.alpha > self.eps:
            raise InvalidValueError(f"attack 'rfgsm': alpha must be <= eps (got alpha {self.alpha:g} > eps "
                                    f"{self.eps:g}); use alpha = eps/2")

    def default_alpha(self) -> float:
        return self.eps / 2

    @property
    def step_size(self) -> float:
        return self.eps - self.alpha

    def start_point(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        # A uniformly random sign per pixel (Tramer et al. write it as the sign of a Gaussian).
        coin = uniform(x.shape, gen, x)
        return x + self.alpha * torch.where(coin < 0.5, -1.0, 1.0)
