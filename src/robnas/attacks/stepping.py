"""Fixed-step projected gradient ascent on the cross-entropy: the engine of FGSM, F-FGSM, R-FGSM, BIM and PGD.

Each of those attacks is this loop with its own start point, step size and number of steps:
``x <- Proj(x + step * direction(grad CE(x)))`` where direction is the gradient's sign (Linf) or
its normalised value (L2), and Proj maps back into the eps-ball intersected with [0, 1].
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from robnas.attacks.base import Attack, screen_clean
from robnas.attacks.checks import check_step
from robnas.attacks.gradient import QueryCounter, cross_entropy_gradient, forward
from robnas.attacks.outcome import Outcome
from robnas.attacks.state import Iterates, retire_broken
from robnas.attacks.threat import ascent_direction, project, project_start, random_in_ball
from robnas.checks import flag, positive_int



class FixedStepAttack(Attack):
    """Projected gradient ascent with a constant step, optional random start and restarts.

    Without early stopping each restart returns its final iterate (what torchattacks returns);
    with several restarts a sample keeps the final iterate that fools the model, else the one
    with the highest loss.
    """
    kind = "white-box"

    def __init__(self, *, eps: float = 8 / 255, norm: str = "Linf", alpha: float | None = None, steps: int = 10,
                 restarts: int = 1, random_start: bool = True, seed: int = 0, early_stop: bool = True,
                 batch_size: int | None = None) -> None:
        super().__init__(eps=eps, norm=norm, seed=seed, early_stop=early_stop, batch_size=batch_size)
        # A default derived from eps may be 0 (at eps 0); only a step the user chose must be > 0.
        self.alpha = self.default_alpha() if alpha is None else check_step(self.name, "alpha", alpha)
        self.steps = positive_int(f"attack {self.name!r}", "steps", steps)
        self.restarts = positive_int(f"attack {self.name!r}", "restarts", restarts)
        self.random_start = flag(f"attack {self.name!r}", "random_start", random_start)

    @property
    def is_random(self) -> bool:
        return self.random_start

    def default_alpha(self) -> float:
        """The step when none is given: 2/255, the step of Devaguptapu et al."""
        return 2 / 255

    @property
    def step_size(self) -> float:
        """The length of every step (in the attack's norm)."""
        return self.alpha

    def start_point(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Where a restart begins, before projection: a random point in the ball, or ``x`` itself."""
        return random_in_ball(x, self.eps, self.norm, gen) if self.random_start else x

    def _attack(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_init: torch.Tensor | None,
                gen: torch.Generator, outcome: Outcome, counter: QueryCounter, need_logits: bool) -> None:
        all_idx = torch.arange(x.shape[0], device=x.device)
        for restart in range(self.restarts):
            start = x_init if restart == 0 and x_init is not None else self.start_point(x, gen)
            if not self.early_stop:
                active = all_idx
            elif restart == 0 and (self.random_start or x_init is not None):
                # The first gradient query is not at the clean point: check the clean point first.
                active = screen_clean(model, x, y, outcome, counter)
            elif restart == 0:
                active = all_idx  # the first query is at the clean point and screens it for free
            else:
                active = outcome.robust_indices()
            if active.numel() == 0:
                return
            x_a = x[active]
            x_start = project_start(start[active], x_a, self.eps, self.norm)
            state = Iterates(idx=active, x=x_a, y=y[active], x_adv=x_start)
            self._ascend(model, state, outcome, counter, need_logits or self.restarts > 1)

    def _ascend(self, model: nn.Module, s: Iterates, outcome: Outcome, counter: QueryCounter,
                need_logits: bool) -> None:
        """One restart from ``s.x_adv``; offers broken samples as they break and the rest at the end."""
        for _ in range(self.steps):
            g = cross_entropy_gradient(model, s.x_adv, s.y, counter)
            grad = retire_broken(g, s, outcome) if self.early_stop else g.grad
            if grad is None:  # every sample broke
                return
            s.x_adv = project(s.x_adv + self.step_size * ascent_direction(grad, self.norm), s.x, self.eps, self.norm)
        if self.early_stop or need_logits:
            logits = forward(model, s.x_adv, counter)
            outcome.offer(s.idx, s.x_adv, logits, F.cross_entropy(logits, s.y, reduction="none"))
        else:
            outcome.place(s.idx, s.x_adv)
