"""AdvRush (Mok et al., ICCV 2021): favour architectures with a smooth input loss landscape.

The architecture objective gets ``gamma * L_lambda`` (Eq. 10) with

    L_lambda = || l(x + h z) - l(x) ||_2,   l(x) = grad_x L(f(x)),   z = sign(l(x)) / ||sign(l(x))||,

a finite-difference estimate of ``h * ||H z||`` for the input Hessian ``H`` along the high-curvature
direction ``z`` (``z`` is a constant: no gradient flows through it). Both input gradients are built
with ``create_graph=True`` so the term is differentiated w.r.t. the alphas (and, in the second-order
search, the weights). The term is switched on after a warm-up (50 of 60 epochs in the paper).

How a batch is reduced. ``L`` is the per-sample cross-entropy; ``z`` is normalised per sample and
the term is the batch mean of the per-sample norms (Eq. 10 for one input, averaged over D_val).

Departures of the official code (nutellamok/advrush, ``regularizer.py`` / ``architect.py``), which
robnas does NOT copy; they are listed so results can be compared:

* scale: it differentiates the batch-MEAN loss (each sample's gradient is divided by the batch
  size B) and multiplies the term by a hard-coded ``lambda_ = 4`` on top of ``gamma``; its
  effective strength is ``gamma * 4 / B`` of ours (0.01 * 4 / 32 = 0.00125 at the paper's batch
  size). robnas keeps Eq. 10's scale, so the paper's gamma = 0.01 is a stronger pull here;
* batch norm: it evaluates the regulariser in eval mode (running statistics) and never switches
  the network back, so after the warm-up its weight steps also run in eval mode. robnas computes
  the term in the mode of the architecture loss (training mode: batch statistics), so L_val and
  L_lambda describe the same function, and restores nothing because it changes nothing;
* data: its architecture batch is ``next(iter(valid_queue))`` of an unshuffled loader over the
  whole training set, i.e. always the same first batch, and the weight loader also covers the
  whole set (the 50/50 split is not applied). robnas uses the paper's split and a fresh shuffled
  batch of the architecture half every step;
* ``h`` ramps 0, 0.3, ..., 1.5 over the first six epochs there (irrelevant once the warm-up exceeds
  six epochs); robnas uses the constant ``h``.

``x + h z`` is not clipped to [0, 1] (neither paper nor code clip it): it probes the landscape, it
is not an adversarial example.

The term's functions (``input_curvature``, ``curvature_direction``, ``summed_cross_entropy``) live in
:mod:`robnas.proxies.curvature`, shared with the ``curvature`` proxy, and are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from robnas.errors import InvalidValueError
from robnas.proxies.curvature import (PAPER_H, curvature_direction, curvature_from_gradient, input_curvature,
                                      summed_cross_entropy)
from robnas.search.differentiable.terms import (ArchForward, SearchTerm, StepInfo, check_warmup, proportional_warmup,
                                                register_term)
from robnas.spaces.supernet import Supernet

__all__ = ["AdvRushParams", "AdvRushTerm", "curvature_direction", "input_curvature", "proportional_warmup", "summed_cross_entropy"]

#: The paper's schedule: 60 search epochs, the regulariser on after 50.
PAPER_EPOCHS, PAPER_WARMUP = 60, 50


@dataclass(frozen=True)
class AdvRushParams:
    """AdvRush's regulariser settings (paper values); the ``[search.differentiable.advrush]`` section."""

    gamma: float = 0.01
    h: float = PAPER_H
    warmup_epochs: int | None = None  # None: the paper's share of the search, round(50/60 * epochs)

    def __post_init__(self) -> None:
        if not self.gamma >= 0:
            raise InvalidValueError(f"AdvRush gamma must be >= 0, got {self.gamma}")
        if not self.h > 0:
            raise InvalidValueError(f"AdvRush h must be > 0, got {self.h}")
        w = self.warmup_epochs
        if w is not None and (isinstance(w, bool) or not isinstance(w, int) or w < 0):
            raise InvalidValueError(f"AdvRush warm-up must be a whole number of epochs >= 0, got {w!r}")


@register_term("advrush")
class AdvRushTerm(SearchTerm):
    """``gamma * L_lambda`` added to the architecture objective from epoch ``warmup_epochs`` on."""

    Params = AdvRushParams
    params: AdvRushParams

    def warmup(self, epochs: int) -> int:
        given = self.params.warmup_epochs
        return proportional_warmup(epochs, PAPER_WARMUP, PAPER_EPOCHS) if given is None else given

    def check(self, epochs: int) -> None:
        check_warmup(self.name, self.params.warmup_epochs, epochs)

    def active(self, info: StepInfo) -> bool:
        return info.epoch >= self.warmup(info.epochs)

    reuses_arch_forward = True

    def arch_loss(self, model: Supernet, x: torch.Tensor, y: torch.Tensor, info: StepInfo) -> torch.Tensor:
        return self.params.gamma * input_curvature(model, x, y, self.params.h)

    def arch_loss_from(self, model: Supernet, x: torch.Tensor, y: torch.Tensor, info: StepInfo,
                       forward: ArchForward | None) -> torch.Tensor:
        """The same term from the architecture loss's forward: the gradient at ``x`` comes from its graph
        (one double-backward), so a step makes two supernet forwards instead of three."""
        if forward is None:
            return self.arch_loss(model, x, y, info)
        (grad,) = torch.autograd.grad(summed_cross_entropy(forward.logits, forward.y), forward.x, create_graph=True)
        return self.params.gamma * curvature_from_gradient(model, forward.x, forward.y, grad, self.params.h).mean()
