"""PGD_0: projected gradient ascent under a pixel budget (Croce & Hein, "Sparse and Imperceivable
Adversarial Attacks", ICCV 2019), the white-box companion of the one-pixel attack for L0.

Threat model: at most ``eps`` pixels (spatial positions) differ from the clean image, each by any
amount within [0, 1] in every channel. Each restart starts from uniform noise in [0, 1] projected
onto that set, then repeats

    x <- Proj_k(x + alpha * grad CE(x) / ||grad CE(x)||_1)

where ``Proj_k`` (:func:`robnas.attacks.threat.project_pixels`) clips into [0, 1] and keeps the
``k`` pixels whose change lowers the distance most (the Euclidean projection). The L1-normalised
gradient puts most of the step on the few coordinates with the largest gradient, which is what
the projection then keeps. Defaults are those of the authors' PyTorch example
(``run_attack_pt.py``): ``alpha = 120000/255``, 100 steps, 5 restarts, ``eps = 5`` pixels. The
step is an absolute L1 length, not rescaled with the image size (as in the official code); it is
large enough that the coordinates with the largest gradients jump to the box boundary.

Evaluation mode (``early_stop=True``): a sample is broken as soon as an iterate is misclassified
and later restarts run only on unbroken samples. ``early_stop=False``: every sample runs every
step of every restart and keeps its best iterate (misclassified first, then the highest loss).

Departures from the official code (``fra31/sparse-imperceivable-attacks``, ``pgd_attacks_pt.py``):

* the official loop evaluates ``num_steps - 1`` iterates and never the last projected one; we
  evaluate all ``steps + 1`` (start, ``steps`` updates), one gradient query per step plus a
  final forward;
* no 1e-12 noise is added to the step to break ties, and the projection keeps exactly ``k`` pixels
  where the official one keeps every pixel tied with the k-th.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from robnas.attacks.base import Attack, points_to_search
from robnas.attacks.checks import check_pixel_budget, check_step
from robnas.attacks.gradient import QueryCounter, cross_entropy_gradient, forward
from robnas.attacks.outcome import Outcome
from robnas.attacks.registry import register_attack
from robnas.attacks.state import Iterates, retire_broken
from robnas.attacks.threat import project_pixels
from robnas.checks import positive_int
from robnas.rng import uniform

# The official step (``step_size`` of the authors' example script): the L1 length of a step.
OFFICIAL_ALPHA = 120000 / 255
# Official constant: keeps the L1 normalisation finite at a zero gradient.
_TINY = 1e-10



@register_attack("pgd-l0")
class SparsePGD(Attack):
    """PGD_0 with L1-normalised gradient steps; ``eps`` is the number of pixels that may change."""
    title = "Sparse PGD"
    kind = "white-box"
    draws_random = True
    norms = ("L0",)

    def __init__(self, *, eps: int = 5, norm: str = "L0", alpha: float = OFFICIAL_ALPHA, steps: int = 100,
                 restarts: int = 5, seed: int = 0, early_stop: bool = True, batch_size: int | None = None) -> None:
        pixels = check_pixel_budget(self.name, eps)
        super().__init__(eps=pixels, norm=norm, seed=seed, early_stop=early_stop, batch_size=batch_size)
        self.eps = pixels
        self.alpha = check_step(self.name, "alpha", alpha)
        self.steps = positive_int(f"attack {self.name!r}", "steps", steps)
        self.restarts = positive_int(f"attack {self.name!r}", "restarts", restarts)


    def _attack(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_init: torch.Tensor | None,
                gen: torch.Generator, outcome: Outcome, counter: QueryCounter, need_logits: bool) -> None:
        for restart in range(self.restarts):
            # the start is not the clean point, so the first run screens the clean points first
            active = points_to_search(model, x, y, outcome, counter, self.early_stop, first=restart == 0)
            if active.numel() == 0:
                return
            x_a = x[active]
            start = x_init[active] if restart == 0 and x_init is not None else uniform(x_a.shape, gen, x_a)
            state = Iterates(idx=active, x=x_a, y=y[active], x_adv=project_pixels(start, x_a, self.eps))
            self._ascend(model, state, outcome, counter)

    def _ascend(self, model: nn.Module, s: Iterates, outcome: Outcome, counter: QueryCounter) -> None:
        """One restart; every evaluated iterate is offered (only broken ones in evaluation mode, which drops them)."""
        for _ in range(self.steps):
            g = cross_entropy_gradient(model, s.x_adv, s.y, counter)
            if self.early_stop:
                grad = retire_broken(g, s, outcome)
                if grad is None:  # every sample broke
                    return
            else:
                grad = g.grad
                outcome.offer(s.idx, s.x_adv, g.logits, g.loss)
            l1 = grad.abs().flatten(1).sum(1).view(-1, *([1] * (grad.dim() - 1)))
            s.x_adv = project_pixels(s.x_adv + self.alpha * grad / (_TINY + l1), s.x, self.eps)
        logits = forward(model, s.x_adv, counter)
        outcome.offer(s.idx, s.x_adv, logits, F.cross_entropy(logits, s.y, reduction="none"))
