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

import torch

from robnas.errors import InvalidValueError
from robnas.proxies.curvature import curvature_direction, input_curvature, summed_cross_entropy
from robnas.search.differentiable.supernet import Supernet
from robnas.search.differentiable.terms import SearchTerm, StepInfo

__all__ = ["AdvRushTerm", "curvature_direction", "input_curvature", "proportional_warmup", "summed_cross_entropy"]

#: The paper's schedule: 60 search epochs, the regulariser on after 50.
PAPER_EPOCHS, PAPER_WARMUP = 60, 50


def proportional_warmup(epochs: int, paper_warmup: int, paper_epochs: int) -> int:
    """The paper's warm-up share of a shorter (or longer) budget, rounded: 50/60 of 12 epochs is 10."""
    return round(paper_warmup / paper_epochs * epochs)


class AdvRushTerm(SearchTerm):
    """``gamma * L_lambda`` added to the architecture objective from epoch ``warmup_epochs`` on."""

    name = "advrush"

    def __init__(self, gamma: float = 0.01, h: float = 1.5, warmup_epochs: int = PAPER_WARMUP) -> None:
        if not gamma >= 0:
            raise InvalidValueError(f"AdvRush gamma must be >= 0, got {gamma}")
        if not h > 0:
            raise InvalidValueError(f"AdvRush h must be > 0, got {h}")
        if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, int) or warmup_epochs < 0:
            raise InvalidValueError(f"AdvRush warm-up must be a whole number of epochs >= 0, got {warmup_epochs!r}")
        self.gamma, self.h, self.warmup_epochs = float(gamma), float(h), warmup_epochs

    def active(self, info: StepInfo) -> bool:
        return info.epoch >= self.warmup_epochs

    def arch_loss(self, model: Supernet, x: torch.Tensor, y: torch.Tensor, info: StepInfo) -> torch.Tensor:
        return self.gamma * input_curvature(model, x, y, self.h)
