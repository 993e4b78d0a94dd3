"""AdvRush's input-curvature term (Mok et al., ICCV 2021, Eq. 10), shared by the search and a proxy.

    L_lambda = || l(x + h z) - l(x) ||_2,   l(x) = grad_x L(f(x)),   z = sign(l(x)) / ||sign(l(x))||,

a finite-difference estimate of ``h * ||H z||`` for the input Hessian ``H`` along the high-curvature
direction ``z`` (``z`` is a constant: no gradient flows through it). Both input gradients are built
with ``create_graph=True`` so the search can differentiate the term w.r.t. the alphas (and weights).
``L`` is the per-sample cross-entropy; ``z`` is normalised per sample and the term is the batch mean
of the per-sample norms (Eq. 10 for one input, averaged over the points).

The search term (:class:`robnas.search.differentiable.advrush.AdvRushTerm`, where the departures of
the official code are listed) imports these functions; the ``curvature`` proxy evaluates the same
quantity on a fixed network in eval mode: larger is predicted LESS robust (AdvRush penalises it).
``x + h z`` is not clipped to [0, 1] (neither paper nor code clip it): it probes the landscape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from robnas.nn.double_backward import lean_double_backward
from robnas.proxies.base import Proxy, positive_float, register_proxy

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


#: AdvRush's finite-difference step h (Sec. 4.1): the proxy's and the search term's default.
PAPER_H = 1.5

def summed_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Sum (not mean) over the batch, so ``grad_x`` gives each sample the gradient of its own loss."""
    return F.cross_entropy(logits, y, reduction="sum")


def _input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn,
                    differentiable: bool = True) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    if not differentiable:  # a value only (the proxy): no graph to build
        return torch.autograd.grad(loss_fn(model(x), y), x)[0]
    with lean_double_backward():  # the gradient is differentiated again
        logits = model(x)
    (grad,) = torch.autograd.grad(loss_fn(logits, y), x, create_graph=True)
    return grad


def curvature_direction(grad: torch.Tensor) -> torch.Tensor:
    """``z = sign(g) / ||sign(g)||`` per sample, detached (zero where the gradient vanishes)."""
    z = torch.sign(grad.detach())
    norm = z.flatten(1).norm(dim=1).clamp_min(1e-12)
    return z / norm.view(-1, *([1] * (z.dim() - 1)))


def input_curvature_per_sample(model: nn.Module, x: torch.Tensor, y: torch.Tensor, h: float,
                               loss_fn: LossFn = summed_cross_entropy, differentiable: bool = True) -> torch.Tensor:
    """``|| grad_x L(x_i + h z_i) - grad_x L(x_i) ||_2`` for every sample ``i`` (differentiable w.r.t.
    the model's parameters unless ``differentiable=False``, which only measures it).

    ``loss_fn(outputs, y)`` must be a sum of per-sample losses so that the input gradient of sample
    ``i`` is the gradient of its own loss.
    """
    grad = _input_gradient(model, x, y, loss_fn, differentiable)
    return curvature_from_gradient(model, x, y, grad, h, loss_fn, differentiable)


def curvature_from_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, grad: torch.Tensor, h: float,
                            loss_fn: LossFn = summed_cross_entropy, differentiable: bool = True) -> torch.Tensor:
    """Per-sample ``|| grad_x L(x_i + h z_i) - grad_i ||``, given the input gradient ``grad`` at ``x``
    (built with ``create_graph=True``): a caller that already has it (the search, from its
    architecture loss's forward) saves one forward pass."""
    z = curvature_direction(grad)
    grad_shifted = _input_gradient(model, x.detach() + h * z, y, loss_fn, differentiable)
    return (grad_shifted - grad).flatten(1).norm(dim=1)


def input_curvature(model: nn.Module, x: torch.Tensor, y: torch.Tensor, h: float,
                    loss_fn: LossFn = summed_cross_entropy) -> torch.Tensor:
    """``mean_i || grad_x L(x_i + h z_i) - grad_x L(x_i) ||_2`` (AdvRush's L_lambda), differentiable."""
    return input_curvature_per_sample(model, x, y, h, loss_fn).mean()


@register_proxy("curvature")
@dataclass(frozen=True, kw_only=True)
class InputCurvature(Proxy):
    """Mean over points of AdvRush's L_lambda in eval mode (larger: less robust)."""

    higher_is = "less robust"

    h: float = PAPER_H

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_float(self, "h")

    def measure(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
        assert y is not None
        values = [input_curvature_per_sample(model, x[s], y[s], self.h, differentiable=False)
                  for s in self.batches(len(x))]
        return torch.cat(values).mean().item()
