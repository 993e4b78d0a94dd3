"""Clean zero-cost proxies (Abdelfattah et al., ICLR 2021): larger is predicted MORE ACCURATE.

* ``synflow`` (Tanaka et al. 2020): every parameter replaced by its absolute value, in float64, an
  all-ones input of one image, ``R = sum of the outputs``; score ``sum |theta * dR/dtheta|`` over
  the weights of the convolution and linear layers (Abdelfattah et al.'s choice of layers: biases and
  batch-norm affine parameters are not scored). It needs no data and no labels. The model itself is
  never modified: the absolute float64 weights are substituted with ``torch.func.functional_call``.
  Batch norm is bypassed (the identity), as in Abdelfattah et al.'s ``synflow`` (their networks are
  rebuilt without batch norm for it): in training mode it would normalise the single constant input
  away, and in eval mode its running statistics would make an untrained and a trained network of
  the same weights score differently, neither of which is the data-free "synaptic flow" being
  measured.
* ``jacob_cov`` (Mellor et al., NASWOT v1, as in Abdelfattah et al.): per point the gradient of the
  sum of its logits w.r.t. its input, ``J`` of shape [N, D]; ``Sigma`` the N x N correlation matrix of
  its rows, eigenvalues ``lambda``; score ``-sum(log(lambda + k) + 1 / (lambda + k))`` with k = 1e-5,
  in float64. NaN when a row is constant (an output that ignores its input makes the correlation
  undefined), as the original returns NaN. With more points than input values the correlation
  matrix is rank deficient and every zero eigenvalue adds about -1e5: keep N <= D for a useful score
  (Abdelfattah et al. use one batch of 64 CIFAR-10 images, D = 3072).
* ``grad_norm`` (Abdelfattah et al.): the gradient of the mean cross-entropy over the points w.r.t.
  the weights of the convolution and linear layers; score: the sum over those layers of the
  Euclidean norm of each layer's weight gradient.

Departures: the networks are in eval mode (running statistics), where Abdelfattah et al.'s code runs
a training-mode forward for ``jacob_cov`` and ``grad_norm`` (batch statistics, so a point's Jacobian
depends on the rest of its batch); eval mode keeps the value independent of how the points are
batched and comparable between an untrained and a trained network. ``synflow`` leaves the model's
weights untouched instead of flipping their signs in place and back. Nothing else is changed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from robnas.errors import InvalidValueError
from robnas.proxies.base import Proxy, register_proxy

#: NASWOT v1's regulariser of the log-eigenvalues.
JACOB_COV_K = 1e-5
_SCORED_LAYERS = (nn.modules.conv._ConvNd, nn.Linear)


def scored_weights(model: nn.Module) -> dict[str, nn.Parameter]:
    """The weights of the convolution and linear layers, by parameter name (what the proxies score)."""
    names = {id(p): name for name, p in model.named_parameters()}  # a shared weight is scored once
    return {names[id(m.weight)]: m.weight for m in model.modules()
            if isinstance(m, _SCORED_LAYERS) and id(m.weight) in names}


@contextmanager
def batch_norm_bypassed(model: nn.Module) -> Iterator[None]:
    """Every batch-norm layer of ``model`` returns its input unchanged while inside."""
    handles = [module.register_forward_hook(lambda _module, inputs, _output: inputs[0])
               for module in model.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@register_proxy("synflow")
@dataclass(frozen=True, kw_only=True)
class Synflow(Proxy):
    """Synaptic flow of the absolute-valued network on an all-ones input (larger: more accurate)."""

    higher_is = "more accurate"
    needs_labels = False

    def measure(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
        weights = {name: p.detach().abs().double().requires_grad_(True) for name, p in model.named_parameters()}
        buffers = {name: b.double() if b.is_floating_point() else b for name, b in model.named_buffers()}
        ones = torch.ones((1, *x.shape[1:]), dtype=torch.float64, device=x.device)
        with batch_norm_bypassed(model):
            flow = functional_call(model, {**weights, **buffers}, (ones,)).sum()
        scored = [weights[name] for name in scored_weights(model)]
        grads = torch.autograd.grad(flow, scored, allow_unused=True)
        return math.fsum((w * g).abs().sum().item() for w, g in zip(scored, grads) if g is not None)


@register_proxy("jacob_cov")
@dataclass(frozen=True, kw_only=True)
class JacobianCovariance(Proxy):
    """NASWOT v1: how decorrelated the points' input Jacobians are (larger: more accurate)."""

    higher_is = "more accurate"
    needs_labels = False

    def measure(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
        if len(x) < 2:
            raise InvalidValueError(f"proxy {self.name!r} correlates points' Jacobians: give at least 2 points")
        rows = []
        for s in self.batches(len(x)):
            xb = x[s].detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(model(xb).sum(), xb)
            rows.append(grad.flatten(1).double())
        corr = torch.corrcoef(torch.cat(rows))
        if not torch.isfinite(corr).all():
            return float("nan")
        eigenvalues = torch.linalg.eigvalsh(corr)
        return -(torch.log(eigenvalues + JACOB_COV_K) + 1.0 / (eigenvalues + JACOB_COV_K)).sum().item()


@register_proxy("grad_norm")
@dataclass(frozen=True, kw_only=True)
class GradNorm(Proxy):
    """Sum over conv / linear layers of the norm of the mean cross-entropy's weight gradient (larger: more accurate)."""

    higher_is = "more accurate"

    def measure(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
        assert y is not None
        weights = [w for w in scored_weights(model).values() if w.requires_grad]
        total = [torch.zeros_like(w) for w in weights]
        for s in self.batches(len(x)):
            loss = F.cross_entropy(model(x[s]), y[s], reduction="sum") / len(x)
            for acc, g in zip(total, torch.autograd.grad(loss, weights, allow_unused=True)):
                if g is not None:
                    acc += g
        return sum(g.norm().item() for g in total)
