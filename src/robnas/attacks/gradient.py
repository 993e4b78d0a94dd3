"""Model queries made by attacks: plain forwards and cross-entropy input gradients.

Every query goes through a :class:`QueryCounter` so attacks can report their cost. Gradients are
taken with ``torch.autograd.grad`` with respect to the input only: nothing is accumulated into
the model's parameters (``p.grad`` stays as the caller left it).

A model that is a :class:`QueryRouter` answers these queries itself: that is how
:mod:`robnas.attacks.lockstep` batches the queries of several attacks into one model call, with no
change to the attacks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class QueryCounter:
    """Number of single-image model evaluations (a forward-backward counts as one query)."""

    queries: int = 0

    def add(self, batch: torch.Tensor) -> None:
        self.queries += int(batch.shape[0])


class QueryRouter(nn.Module):
    """A stand-in model that answers attack queries itself (e.g. by batching them with other attacks')."""

    def query_logits(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def query_gradient(self, x: torch.Tensor, y: torch.Tensor,
                       loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> LossGradient:
        raise NotImplementedError


def forward(model: nn.Module, x: torch.Tensor, counter: QueryCounter) -> torch.Tensor:
    """Logits of ``model`` at ``x`` without building a graph."""
    counter.add(x)
    if isinstance(model, QueryRouter):
        return model.query_logits(x)
    with torch.no_grad():
        return model(x)


@dataclass
class LossGradient:
    """What one gradient query returns: logits, per-sample cross-entropy and its input gradient."""

    logits: torch.Tensor
    loss: torch.Tensor
    grad: torch.Tensor


def loss_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, counter: QueryCounter,
                  loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> LossGradient:
    """Per-sample ``loss_fn(logits, y)`` at ``x`` and the gradient of its sum w.r.t. ``x``.

    The sum (not the mean) makes each sample's gradient independent of the batch size, so a
    sample's trajectory does not change when broken samples leave the batch.
    """
    counter.add(x)
    if isinstance(model, QueryRouter):
        return model.query_gradient(x, y, loss_fn)
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        loss = loss_fn(logits, y)
        (grad,) = torch.autograd.grad(loss.sum(), [x])
    return LossGradient(logits.detach(), loss.detach(), grad.detach())


def cross_entropy_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                           counter: QueryCounter) -> LossGradient:
    """Per-sample cross-entropy at ``x`` and its input gradient (see :func:`loss_gradient`)."""
    return loss_gradient(model, x, y, counter, per_sample_cross_entropy)


def per_sample_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The per-sample cross-entropy; one function object, so that lockstep can tell equal queries apart."""
    return F.cross_entropy(logits, labels, reduction="none")
