"""AdvRush (Mok et al., ICCV 2021): favour architectures with a smooth input loss landscape.

The architecture objective gets ``gamma * L_lambda`` (Eq. 10) with

    L_lambda = || l(x + h z) - l(x) ||_2,   l(x) = grad_x L(f(x)),   z = sign(l(x)) / ||sign(l(x))||,

a finite-difference estimate of ``h * ||H z||`` for the input Hessian ``H`` along the high-curvature
direction ``z`` (``z`` is a constant: no gradient flows through it). Both input gradients are built
with ``create_graph=True`` so the term is differentiated w.r.t. the alphas (and, in the second-order
search, the weights). The term is switched on after a warm-up (50 of 60 epochs in the paper).

How a batch is reduced. ``L`` is the per-sample cross-entropy; ``z`` is normalised per sample and
the term is the batch mean of the per-sample norms (Eq. 10 for one input, averaged over D_val).

Departures of the official code (nutellamok/advrush, ``regularizer.py`` / ``architect.py`` /
``train_search.py``); robnas's default (``compat="robnas"``) does not copy them, ``compat="official"``
reproduces the first four, for users who must match the official numbers:

* scale: the official term is exactly ``lambda_ = 4`` (hard-coded in ``architect.py``) times Eq. 10.
  Its criterion is the batch-mean cross-entropy, but both input gradients are taken with
  ``grad_outputs = ones(B)`` on that scalar, which the autograd of its time summed to ``B``
  (current torch refuses the shape): the batch size cancels and each sample gets the gradient of
  its own loss, as here (checked against the official ``loss_cure`` ported that way: equal to
  2e-10, its ``1e-7`` guards aside);
* batch norm: the official term runs in eval mode (running statistics; L_val before it runs in
  training mode). robnas computes it in the mode of the architecture loss (training mode), so
  L_val and L_lambda describe the same function;
* data: the official architecture batch is ``next(iter(valid_queue))`` of an unshuffled loader over
  the whole training set: always the same first batch (with fresh augmentations), for L_val and the
  term alike. robnas uses a fresh shuffled batch of the architecture half every step; the
  official-compatible mode keeps the first architecture batch it sees (from the first step on,
  for L_val and the term; stored in the search checkpoint), augmentation included, where the
  official loader re-augments the same images each time;
* input space: the official inputs are normalised by the data loader, so ``z = h sign(g) /
  ||sign(g)||`` and the gradient difference live in normalised space. robnas's networks take
  [0, 1] pixels, so the same ``h`` is a step about 1/std (about 4x on CIFAR-10) larger relative to
  the data; the official-compatible mode works in the supernet's normalised space;
* not reproduced by either mode: the official ``_find_z`` back-propagates the eval-mode loss through
  the whole model, and ``zero_grad()`` does not clear the alphas (plain tensors, not module
  parameters), so every official architecture gradient after the warm-up also carries ``B`` times
  the eval-mode cross-entropy gradient of the alphas (at initialisation comparable in size to the
  real one); the official weight steps after the warm-up run in eval mode (the term leaves the
  network there); the official search skips the 50/50 split (both loaders cover the whole training
  set); ``h`` ramps 0, 0.3, ..., 1.5 over the first six epochs there (irrelevant once the warm-up
  exceeds six epochs).

``x + h z`` is not clipped to [0, 1] (neither paper nor code clip it): it probes the landscape, it
is not an adversarial example.

The term's functions (``input_curvature``, ``curvature_direction``, ``summed_cross_entropy``) live in
:mod:`robnas.proxies.curvature`, shared with the ``curvature`` proxy, and are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from robnas.attacks.base import eval_mode
from robnas.errors import InvalidValueError
from robnas.nn.normalize import Normalize
from robnas.proxies.curvature import (PAPER_H, curvature_direction, curvature_from_gradient, input_curvature,
                                      summed_cross_entropy)
from robnas.search.differentiable.terms import (ArchForward, StepInfo, WarmedUpTerm, proportional_warmup,
                                                register_term)
from robnas.spaces.supernet import Supernet

__all__ = ["AdvRushParams", "AdvRushTerm", "curvature_direction", "input_curvature", "official_curvature",
           "proportional_warmup", "summed_cross_entropy"]

#: The paper's schedule: 60 search epochs, the regulariser on after 50.
PAPER_EPOCHS, PAPER_WARMUP = 60, 50
#: ``robnas``: Eq. 10 as written; ``official``: the official code's term (see the module docstring).
COMPAT = ("robnas", "official")
#: The official code's hard-coded multiplier of the term (``loss_cure(..., lambda_=4)`` in architect.py).
OFFICIAL_LAMBDA = 4.0


class _FromNormalised(nn.Module):
    """``model`` seen from its normalised input space: ``x_n -> model(x_n * std + mean)``."""

    def __init__(self, model: nn.Module, normalize: Normalize) -> None:
        super().__init__()
        self.model, self.normalize = model, normalize

    def forward(self, x_n: torch.Tensor) -> torch.Tensor:
        mean, std = self.normalize.mean, self.normalize.std
        return self.model(x_n if mean is None or std is None else x_n * std + mean)


def official_curvature(model: Supernet, x: torch.Tensor, y: torch.Tensor, h: float) -> torch.Tensor:
    """The official code's term: ``4 * mean_i ||l(x_i + h z_i) - l(x_i)||`` in eval mode, with the
    input gradients ``l`` and the direction ``z`` taken w.r.t. the normalised inputs (``x`` in [0, 1])."""
    with eval_mode(model):
        return OFFICIAL_LAMBDA * input_curvature(_FromNormalised(model, model.normalize), model.normalize(x), y, h)


@dataclass(frozen=True)
class AdvRushParams:
    """AdvRush's regulariser settings (paper values); the ``[search.differentiable.advrush]`` section."""

    gamma: float = 0.01
    h: float = PAPER_H
    warmup_epochs: int | None = None  # None: the paper's share of the search, round(50/60 * epochs)
    compat: str = "robnas"            # "official": the official code's term (4x, eval mode, fixed batch, normalised h)

    def __post_init__(self) -> None:
        if self.compat not in COMPAT:
            raise InvalidValueError(f"AdvRush compat must be one of {', '.join(COMPAT)}, got {self.compat!r} "
                                    "(official: reproduce the official code's term)")
        if not self.gamma >= 0:
            raise InvalidValueError(f"AdvRush gamma must be >= 0, got {self.gamma}")
        if not self.h > 0:
            raise InvalidValueError(f"AdvRush h must be > 0, got {self.h}")
        w = self.warmup_epochs
        if w is not None and (isinstance(w, bool) or not isinstance(w, int) or w < 0):
            raise InvalidValueError(f"AdvRush warm-up must be a whole number of epochs >= 0, got {w!r}")


@register_term("advrush")
class AdvRushTerm(WarmedUpTerm):
    """``gamma * L_lambda`` added to the architecture objective from epoch ``warmup_epochs`` on."""

    Params = AdvRushParams
    paper_warmup, paper_epochs = PAPER_WARMUP, PAPER_EPOCHS
    params: AdvRushParams


    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self._fixed: tuple[torch.Tensor, torch.Tensor] | None = None  # official: the first architecture batch

    @property
    def official(self) -> bool:
        return self.params.compat == "official"

    def active(self, info: StepInfo) -> bool:
        # official: the fixed batch feeds L_val from the first step on; the term itself waits (arch_loss)
        return self.official or self._warm(info)

    def _warm(self, info: StepInfo) -> bool:
        return info.epoch >= self.warmup(info.epochs)

    def arch_batch(self, model: Supernet, x: torch.Tensor, y: torch.Tensor,
                   info: StepInfo) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.official:
            return x, y
        if self._fixed is None:
            self._fixed = (x.detach().clone(), y.detach().clone())
        return self._fixed

    def arch_loss(self, model: Supernet, x: torch.Tensor, y: torch.Tensor, info: StepInfo) -> torch.Tensor | None:
        if not self._warm(info):
            return None
        if self.official:
            x, y = self.arch_batch(model, x, y, info)
            return self.params.gamma * official_curvature(model, x, y, self.params.h)
        return self.params.gamma * input_curvature(model, x, y, self.params.h)

    def state_dict(self) -> dict[str, object]:
        return {} if self._fixed is None else {"fixed_x": self._fixed[0], "fixed_y": self._fixed[1]}

    def load_state_dict(self, state: dict[str, object]) -> None:
        if "fixed_x" in state:
            self._fixed = (state["fixed_x"], state["fixed_y"])  # type: ignore[assignment]

    reuses_arch_forward = True

    def arch_loss_from(self, model: Supernet, x: torch.Tensor, y: torch.Tensor, info: StepInfo,
                       forward: ArchForward | None) -> torch.Tensor | None:
        """The same term from the architecture loss's forward: the gradient at ``x`` comes from its graph
        (one double-backward), so a step makes two supernet forwards instead of three. The official
        mode's batch is transformed (the fixed first batch), so it never gets a forward to reuse."""
        if forward is None or self.official or not self._warm(info):
            return self.arch_loss(model, x, y, info)
        (grad,) = torch.autograd.grad(summed_cross_entropy(forward.logits, forward.y), forward.x, create_graph=True)
        return self.params.gamma * curvature_from_gradient(model, forward.x, forward.y, grad, self.params.h).mean()
