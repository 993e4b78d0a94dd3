"""``jacobian``: Frobenius norm of the input-output Jacobian of the logits (Hoffman et al. 2019).

For each point x_i, ``J_i = d f(x_i) / d x`` (C logits by D input values, inputs in pixel units
[0, 1], so the model's normalisation layer is part of f); the value is ``mean_i ||J_i||_F``.
Jung et al. rank architectures by it: a larger norm means a larger output change for a small input
change, so larger is predicted LESS robust.

* ``projections=0`` (default): exact, one backward pass per output class (row c of every J_i at
  once, since in eval mode each point's logits depend on its own input only);
* ``projections=n``: Hoffman et al.'s random-projection estimator, for many classes:
  ``||J||_F^2 = C E_v ||v^T J||^2`` for v uniform on the unit sphere of R^C; each point gets its
  own n vectors (one backward pass per projection) and ``||J_i||_F`` is the square root of the
  estimate. With ``A = J J^T`` one projection's ``C ||v^T J||^2`` has variance
  ``2 (C tr(A^2) - tr(A)^2) / (C + 2) <= 2 (C - 1)/(C + 2) ||J||_F^4``, so n projections give the
  squared norm to a relative standard deviation of at most ``sqrt(2 (C - 1) / ((C + 2) n))``.
  The square root of an unbiased estimate is biased low (Jensen), by about half the relative
  variance: negligible for n in the tens. The vectors of all points are drawn up front from
  ``seed``, so a point's vectors do not depend on how the points are batched.

Departure: Hoffman et al. use the estimator inside training as a regulariser (usually n = 1) and
Jung et al. do not say which form they computed; exact is the default here because C = 10 backward
passes are cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from robnas.proxies.base import Proxy, register_proxy, whole_number
from robnas.rng import make_generator, normal


def unit_vectors(projections: int, points: int, classes: int, seed: int, like: torch.Tensor) -> torch.Tensor:
    """``[projections, points, classes]`` vectors uniform on the unit sphere (normalised Gaussians)."""
    v = normal((projections, points, classes), make_generator(seed), like)
    return v / v.norm(dim=2, keepdim=True)


def jacobian_sq_norms(model: nn.Module, x: torch.Tensor, vectors: torch.Tensor | None = None) -> torch.Tensor:
    """Per point ``||J_i||_F^2`` of ``model``'s logits at ``x``: exact, or estimated with ``vectors [n, B, C]``."""
    x = x.detach().requires_grad_(True)
    logits = model(x)
    classes = logits.shape[1]
    rows = (torch.eye(classes, dtype=logits.dtype, device=logits.device).expand(len(x), classes, classes)
            .transpose(0, 1) if vectors is None else vectors)  # [n, B, C]: one backward pass per row
    scale = 1.0 if vectors is None else classes / len(vectors)
    total = torch.zeros(len(x), dtype=logits.dtype, device=logits.device)
    for k, v in enumerate(rows):
        (grad,) = torch.autograd.grad(logits, x, grad_outputs=v, retain_graph=k < len(rows) - 1)
        total += grad.flatten(1).pow(2).sum(dim=1)
    return scale * total


@register_proxy("jacobian")
@dataclass(frozen=True, kw_only=True)
class JacobianNorm(Proxy):
    """Mean over points of the Frobenius norm of the logits' input Jacobian (larger: less robust)."""

    higher_is = "less robust"
    needs_labels = False

    projections: int = 0  # 0: exact (one backward per class); n > 0: Hoffman et al.'s estimator with n vectors

    def __post_init__(self) -> None:
        super().__post_init__()
        whole_number(self, "projections", minimum=0)

    def measure(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
        vectors = None
        if self.projections:
            with torch.no_grad():
                classes = model(x[:1]).shape[1]
            vectors = unit_vectors(self.projections, len(x), classes, self.seed, x)
        norms = [jacobian_sq_norms(model, x[s], None if vectors is None else vectors[:, s]).sqrt()
                 for s in self.batches(len(x))]
        return torch.cat(norms).mean().item()
