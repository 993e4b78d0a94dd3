"""The input loss landscape of a model (AdvRush Figure 3): cross-entropy on a 2-D slice of input space.

Around each input ``x`` the surface is ``L(x + a * n + b * r)`` for ``(a, b)`` on a ``K x K`` grid
over ``[-R, R]^2``, where ``n = sign(grad_x L(x))`` is the direction an FGSM step takes (the "normal"
direction of AdvRush Figure 3, as in Moosavi-Dezfooli et al.'s CURE plots that AdvRush follows) and
``r`` is a Rademacher (+-1) vector. Both directions have every coordinate equal to +-1, hence the same
Linf (1) and L2 (sqrt(d)) norm: they are normalised alike, as filter normalisation does in Li et al.'s
"Visualizing the loss landscape" for parameter directions, and ``a = R`` is exactly an FGSM step of
radius ``R``. The grid has an odd number of points per axis so that its centre is the clean input.

All grid points of a batch of inputs are evaluated in few large forwards (model in eval mode, so each
image's loss does not depend on the batch it is in). The random direction comes from a generator
seeded by ``seed``; the global RNG is untouched.

Departures: perturbed inputs are not clipped to [0, 1] (the landscape is a property of the function
around ``x``; clipping would flatten it at the image borders); AdvRush does not state its grid or
radius (it uses different radii for standard and adversarially trained networks), so both are parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from robnas.attacks.gradient import QueryCounter, cross_entropy_gradient
from robnas.checks import positive_int
from robnas.data import Split
from robnas.eps import Eps
from robnas.errors import InvalidValueError
from robnas.rng import make_generator

# Images per forward pass: large enough to amortise the per-call overhead of small networks.
FORWARD_BATCH = 4096


@dataclass
class Landscape:
    """A loss surface: ``loss[i][j]`` at ``x + axis[i] * sign(grad) + axis[j] * rademacher``."""

    axis: list[float]                # grid coordinates, shared by both directions (odd length, centre 0)
    loss: list[list[float]]          # mean cross-entropy over the points, [K][K]
    clean_loss: float                # mean cross-entropy at the inputs themselves
    points: int
    eps_range: float
    seed: int
    per_point: list[list[list[float]]] | None = None  # [N][K][K] when asked for

    @property
    def centre(self) -> int:
        return len(self.axis) // 2

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "directions": ["gradient_sign", "rademacher"],
            "axis": self.axis,
            "loss": self.loss,
            "clean_loss": self.clean_loss,
            "points": self.points,
            "range": self.eps_range,
            "resolution": len(self.axis),
            "seed": self.seed,
        }
        if self.per_point is not None:
            out["per_point"] = self.per_point
        return out


def check_landscape_args(points: int, eps_range: float | Eps, resolution: int) -> None:
    """Refuse grids that cannot be drawn or would not contain the clean input (before any work)."""
    if isinstance(eps_range, Eps):
        eps_range = float(eps_range)
    positive_int("landscape", "points", points)
    if not (eps_range > 0 and eps_range == eps_range and eps_range != float("inf")):
        raise InvalidValueError(f"landscape range must be a positive number like 8/255, got {eps_range!r}")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 3 or resolution % 2 == 0:
        raise InvalidValueError(f"landscape resolution must be an odd integer >= 3 (the centre is the clean "
                                f"input), got {resolution!r}")


def grid_axis(eps_range: float, resolution: int) -> torch.Tensor:
    """``resolution`` evenly spaced values over [-R, R] whose middle one is exactly 0 (float64)."""
    half = (resolution - 1) // 2
    return eps_range * torch.arange(-half, half + 1, dtype=torch.float64) / half


def directions(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
               gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-input gradient-sign and Rademacher directions, and the clean per-input loss."""
    step = cross_entropy_gradient(model, x, y, QueryCounter())
    signs = torch.randint(0, 2, x.shape, generator=gen, device=gen.device).to(x.device, x.dtype)
    return step.grad.sign(), signs.mul_(2).sub_(1), step.loss


@torch.no_grad()
def _surface(model: nn.Module, x: torch.Tensor, y: torch.Tensor, n: torch.Tensor, r: torch.Tensor,
             coeffs: torch.Tensor) -> torch.Tensor:
    """Per-input losses ``[B, G]`` at ``x + coeffs[g, 0] * n + coeffs[g, 1] * r`` for the ``G`` grid points."""
    b, g = x.shape[0], coeffs.shape[0]
    shape = (1, g) + (1,) * (x.dim() - 1)
    a = coeffs[:, 0].to(x.dtype).view(shape)
    c = coeffs[:, 1].to(x.dtype).view(shape)
    out = torch.empty(b, g, device=x.device, dtype=x.dtype)
    per_chunk = max(1, FORWARD_BATCH // b)  # grid points per forward, all inputs of the batch at once
    for start in range(0, g, per_chunk):
        sl = slice(start, min(start + per_chunk, g))
        batch = x[:, None] + a[:, sl] * n[:, None] + c[:, sl] * r[:, None]
        k = batch.shape[1]
        logits = model(batch.flatten(0, 1))
        out[:, sl] = F.cross_entropy(logits, y.repeat_interleave(k), reduction="none").view(b, k)
    return out


def input_loss_landscape(model: nn.Module, split: Split, points: int = 100, eps_range: float | Eps = 8 / 255,
                         resolution: int = 21, seed: int = 0, per_point: bool = False,
                         batch_size: int = 64) -> Landscape:
    """The landscape over the first ``points`` inputs of ``split`` (mean, and per input if asked)."""
    check_landscape_args(points, eps_range, resolution)
    eps_range = float(eps_range)
    if len(split) == 0:
        raise InvalidValueError("the landscape needs at least one input; the split is empty")
    model.eval()
    axis = grid_axis(eps_range, resolution)
    coeffs = torch.cartesian_prod(axis, axis).to(split.device)  # row-major: gradient-sign index first
    gen = make_generator(seed, split.device)
    n_points = min(points, len(split))
    total = torch.zeros(resolution * resolution, dtype=torch.float64, device=split.device)
    clean_total = 0.0
    rows: list[torch.Tensor] = []
    for start in range(0, n_points, batch_size):
        idx = torch.arange(start, min(start + batch_size, n_points), device=split.device)
        x, y = split.float_images(idx), split.labels[idx]
        n, r, clean = directions(model, x, y, gen)
        losses = _surface(model, x, y, n, r, coeffs)
        if not torch.isfinite(losses).all():
            raise InvalidValueError("the loss is not finite on the landscape grid; the model outputs NaN/inf "
                                    "there (try a smaller --range)")
        total += losses.double().sum(0)
        clean_total += float(clean.double().sum())
        if per_point:
            rows.append(losses.cpu())
    mean = (total / n_points).view(resolution, resolution)
    per = torch.cat(rows).view(n_points, resolution, resolution).tolist() if per_point else None
    return Landscape(axis=axis.tolist(), loss=mean.tolist(), clean_loss=clean_total / n_points, points=n_points,
                     eps_range=float(eps_range), seed=seed, per_point=per)
