"""Largest Hessian eigenvalues of the cross-entropy: w.r.t. the INPUT (``hessian``) or the WEIGHTS.

``hessian`` -- Zhao et al. (ICLR 2020) bound the adversarial loss by the largest eigenvalue of the
input Hessian ``H_i = d^2 CE(f(x_i), y_i) / dx^2`` at clean points (inputs in pixel units [0, 1]);
Jung et al. rank architectures by it: larger is predicted LESS robust. Per point, by power iteration
on Hessian-vector products (double backward); all points of a batch iterate together, each its own
block (normalised and stopped on its own), and the value is the mean over points.

``hessian-weights`` -- the largest eigenvalue of the Hessian of the mean cross-entropy over all the
points w.r.t. every trainable parameter (the loss-landscape sharpness GradVis computes, which Jung et
al. cite as their Hessian approximation), by power iteration on Hessian-vector products of the
whole-set loss (batches' products are summed, so the operator is the same however the points are
split). Larger: sharper minimum, predicted less robust.

Which eigenvalue: the largest ALGEBRAIC one, lambda_max (see :mod:`robnas.proxies.eigen`): that is
the paper's meaning (a sharp minimum is large positive curvature). For networks that are piecewise
linear in their input (ReLU, pooling, eval-mode batch norm: every NAS-Bench-201 network) the input
Hessian is ``J^T (diag(p) - p p^T) J``, positive semi-definite, so it is also the dominant one; the
weight Hessian is indefinite in general, and a dominant negative eigenvalue triggers a shifted
second iteration.

Departures: GradVis computes weight-Hessian eigenvalues with Lanczos (ARPACK); plain power iteration
is used here, stopped when the Rayleigh quotient changes by at most ``tol`` (relative) or after
``iterations`` products per phase; Jung et al. give neither their batch nor their stopping rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from robnas.checks import positive_int
from robnas.nn.double_backward import constant, lean_double_backward
from robnas.proxies.base import Proxy, positive_float, register_proxy
from robnas.proxies.eigen import largest_eigenvalues
from robnas.rng import make_generator, normal


@dataclass(frozen=True, kw_only=True)
class _PowerIteration(Proxy):
    """The power-iteration parameters both Hessian proxies share."""

    higher_is = "less robust"

    iterations: int = 100  # Hessian-vector products per power iteration at most
    tol: float = 1e-3      # stop a block when its eigenvalue estimate changes by at most tol (relative)

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_int(f"proxy {self.name!r}", "iterations", self.iterations)
        positive_float(self, "tol", allow_zero=True)


@register_proxy("hessian")
@dataclass(frozen=True, kw_only=True)
class InputHessian(_PowerIteration):
    """Mean over points of lambda_max of the cross-entropy's input Hessian (larger: less robust)."""

    def measure(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
        assert y is not None
        starts = normal((len(x), x[0].numel()), make_generator(self.seed), x)  # per point, split-independent
        with constant(model.parameters()):  # products w.r.t. the input only: no weight branches
            values = [self._batch(model, x[s], y[s], starts[s]) for s in self.batches(len(x))]
        return torch.cat(values).mean().item()

    def _batch(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        x = x.detach().requires_grad_(True)
        with lean_double_backward():  # every product differentiates the input gradient again
            logits = model(x)
        # Summed loss: the gradient of point i is that of its own loss, so the batch's Hessian is block diagonal.
        (grad,) = torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), x, create_graph=True)

        def hvp(v: torch.Tensor) -> torch.Tensor:
            (hv,) = torch.autograd.grad(grad, x, grad_outputs=v.view_as(x), retain_graph=True)
            return hv.flatten(1)

        return largest_eigenvalues(hvp, start, self.iterations, self.tol).detach()


@register_proxy("hessian-weights")
@dataclass(frozen=True, kw_only=True)
class WeightHessian(_PowerIteration):
    """lambda_max of the Hessian of the mean cross-entropy w.r.t. the weights (larger: less robust)."""

    def measure(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
        assert y is not None
        params = [p for p in model.parameters() if p.requires_grad]
        size = sum(p.numel() for p in params)
        if size == 0:
            return 0.0
        slices = list(self.batches(len(x)))
        # With one batch its gradient graph is built once and reused by every product; with several,
        # each product rebuilds them one at a time so memory stays that of one batch.
        cached = self._gradient(model, x, y, params, len(x)) if len(slices) == 1 else None

        def hvp(v: torch.Tensor) -> torch.Tensor:
            pieces = _split(v[0], params)
            total = torch.zeros(size, dtype=v.dtype, device=v.device)
            for s in slices:
                grads = cached if cached is not None else self._gradient(model, x[s], y[s], params, len(x))
                # A gradient without a graph is constant in the weights: its rows of H are zero.
                curved = [(g, piece) for g, piece in zip(grads, pieces) if g is not None and g.requires_grad]
                if not curved:
                    continue
                hv = torch.autograd.grad([g for g, _ in curved], params, grad_outputs=[piece for _, piece in curved],
                                         retain_graph=cached is not None, allow_unused=True)
                total += torch.cat([(torch.zeros_like(p) if h is None else h).flatten() for p, h in zip(params, hv)])
            return total.unsqueeze(0)

        start = normal((1, size), make_generator(self.seed), params[0])
        return largest_eigenvalues(hvp, start, self.iterations, self.tol).item()

    @staticmethod
    def _gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, params: list[nn.Parameter],
                  total: int) -> tuple[torch.Tensor | None, ...]:
        """This batch's share of the gradient of the mean loss over all ``total`` points, with its graph."""
        loss = F.cross_entropy(model(x), y, reduction="sum") / total
        return torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)


def _split(flat: torch.Tensor, params: list[nn.Parameter]) -> list[torch.Tensor]:
    """A flat vector cut into pieces shaped like ``params``."""
    pieces, offset = [], 0
    for p in params:
        pieces.append(flat[offset:offset + p.numel()].view_as(p))
        offset += p.numel()
    return pieces
