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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from robnas.errors import InvalidValueError
from robnas.search.differentiable.terms import SearchTerm, StepInfo, check_warmup, proportional_warmup, register_term
from robnas.spaces.supernet import Supernet

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: The paper's schedule: 60 search epochs, the regulariser on after 50.
PAPER_EPOCHS, PAPER_WARMUP = 60, 50


def summed_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Sum (not mean) over the batch, so ``grad_x`` gives each sample the gradient of its own loss."""
    return F.cross_entropy(logits, y, reduction="sum")


def _input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss_fn(model(x), y), x, create_graph=True)
    return grad


def curvature_direction(grad: torch.Tensor) -> torch.Tensor:
    """``z = sign(g) / ||sign(g)||`` per sample, detached (zero where the gradient vanishes)."""
    z = torch.sign(grad.detach())
    norm = z.flatten(1).norm(dim=1).clamp_min(1e-12)
    return z / norm.view(-1, *([1] * (z.dim() - 1)))


def input_curvature(model: nn.Module, x: torch.Tensor, y: torch.Tensor, h: float,
                    loss_fn: LossFn = summed_cross_entropy) -> torch.Tensor:
    """``mean_i || grad_x L(x_i + h z_i) - grad_x L(x_i) ||_2`` (AdvRush's L_lambda), differentiable.

    ``loss_fn(outputs, y)`` must be a sum of per-sample losses so that the input gradient of sample
    ``i`` is the gradient of its own loss.
    """
    grad = _input_gradient(model, x, y, loss_fn)
    z = curvature_direction(grad)
    grad_shifted = _input_gradient(model, x.detach() + h * z, y, loss_fn)
    return (grad_shifted - grad).flatten(1).norm(dim=1).mean()


@dataclass(frozen=True)
class AdvRushParams:
    """AdvRush's regulariser settings (paper values); the ``[search.differentiable.advrush]`` section."""

    gamma: float = 0.01
    h: float = 1.5
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

    def arch_loss(self, model: Supernet, x: torch.Tensor, y: torch.Tensor, info: StepInfo) -> torch.Tensor:
        return self.params.gamma * input_curvature(model, x, y, self.params.h)
