"""Threat models: the Linf and L2 balls of radius eps around a clean image, intersected with [0, 1].

Every attack builds its iterates from three operations on this set: a projection back onto it,
the direction of steepest ascent for the norm (sign of the gradient for Linf, the normalised
gradient for L2), and random starting points inside it drawn from an explicit generator.
"""

from __future__ import annotations

import torch

from robnas.rng import normal, uniform

NORMS = ("Linf", "L2")

# Added to a norm before dividing by it, so that a zero vector stays zero instead of NaN.
_TINY = 1e-12


def l2_norm(v: torch.Tensor) -> torch.Tensor:
    """Per-sample Euclidean norm, shaped ``[N, 1, ..., 1]`` to broadcast against ``v``."""
    return v.flatten(1).pow(2).sum(1).sqrt().view(-1, *([1] * (v.dim() - 1)))


def linf_norm(v: torch.Tensor) -> torch.Tensor:
    """Per-sample max-abs norm, shaped ``[N, 1, ..., 1]``."""
    return v.flatten(1).abs().amax(1).view(-1, *([1] * (v.dim() - 1)))


def perturbation_norm(v: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-sample ``||v||_p`` as a flat ``[N]`` tensor; for ``"L0"`` the number of changed pixels."""
    if norm == "L0":
        return changed_pixels(v).to(v.dtype)
    return (linf_norm(v) if norm == "Linf" else l2_norm(v)).flatten()


def unit(v: torch.Tensor, norm: str) -> torch.Tensor:
    """``v / ||v||`` per sample (zero stays zero)."""
    return v / ((linf_norm(v) if norm == "Linf" else l2_norm(v)) + _TINY)


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """Closest point to ``x_adv`` in the eps-ball around ``x``, then clipped into [0, 1].

    Clipping to [0, 1] after the ball projection keeps the point in the ball: both sets are
    boxes for Linf, and for L2 clipping only moves coordinates towards ``x`` (which is in [0, 1]).
    The L2 form ``x + delta/||delta|| * min(||delta||, eps)`` is the one of the official AutoAttack
    code, so that APGD iterates agree with it to float rounding.
    """
    if norm == "Linf":
        return torch.clamp(torch.min(torch.max(x_adv, x - eps), x + eps), 0.0, 1.0)
    delta = x_adv - x
    length = l2_norm(delta)
    return torch.clamp(x + unit(delta, "L2") * torch.clamp(length, max=eps), 0.0, 1.0)


def project_start(start: torch.Tensor, x: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """Project a starting point; a start already inside the ball is only clipped into [0, 1], bit for bit
    (the L2 projection formula would perturb it by float rounding), as the official APGD code does."""
    inside = perturbation_norm(start - x, norm) <= eps
    return torch.where(inside.view(-1, *([1] * (x.dim() - 1))), start.clamp(0.0, 1.0), project(start, x, eps, norm))


def ascent_direction(grad: torch.Tensor, norm: str) -> torch.Tensor:
    """Steepest-ascent direction of unit norm: ``sign(grad)`` for Linf, ``grad/||grad||_2`` for L2."""
    return grad.sign() if norm == "Linf" else unit(grad, "L2")


def uniform_box(x: torch.Tensor, eps: float, gen: torch.Generator) -> torch.Tensor:
    """``x`` plus i.i.d. uniform noise in [-eps, eps] per pixel (Madry et al.; Wong et al.'s fast FGSM)."""
    return x + uniform(x.shape, gen, x, -eps, eps)


def random_in_ball(x: torch.Tensor, eps: float, norm: str, gen: torch.Generator) -> torch.Tensor:
    """A random start for PGD: uniform box noise for Linf; for L2 a Gaussian direction with a
    radius drawn uniformly in [0, eps] (torchattacks' PGDL2 start; not volume-uniform in the ball)."""
    if norm == "Linf":
        return uniform_box(x, eps, gen)
    direction = unit(normal(x.shape, gen, x), "L2")
    radius = uniform((x.shape[0],), gen, x, 0.0, eps).view(-1, *([1] * (x.dim() - 1)))
    return x + direction * radius


def random_on_sphere(x: torch.Tensor, eps: float, norm: str, gen: torch.Generator) -> torch.Tensor:
    """APGD's start: a random direction scaled to length eps (official AutoAttack code).

    Linf: uniform noise in [-1, 1] rescaled so that its largest coordinate is eps;
    L2: a Gaussian direction of length eps. Both before clipping into [0, 1].
    """
    noise = uniform(x.shape, gen, x, -1.0, 1.0) if norm == "Linf" else normal(x.shape, gen, x)
    return x + eps * unit(noise, norm)


# ---- The pixel (L0) threat model: at most k spatial positions change, each by any amount within [0, 1].
# A pixel is one spatial position of an image [N, C, H, W]; all its channels may change together
# (the threat model of one-pixel attacks and of Croce & Hein's PGD_0). Inputs without a channel
# axis ([N, D]) count every feature as a pixel.


def _pixels(v: torch.Tensor) -> torch.Tensor:
    """``v`` seen as ``[N, C, P]``: channels, then the flattened spatial positions."""
    return v.flatten(2) if v.dim() >= 3 else v[:, None, :]


def changed_pixels(v: torch.Tensor) -> torch.Tensor:
    """Per-sample number (int64, ``[N]``) of spatial positions where any channel of ``v`` is nonzero."""
    return (_pixels(v) != 0).any(1).sum(1)


def project_pixels(x_adv: torch.Tensor, x: torch.Tensor, k: int) -> torch.Tensor:
    """Closest point (Euclidean) to ``x_adv`` that lies in [0, 1] and differs from ``x`` in at most ``k`` pixels.

    Clipping into [0, 1] is the box projection of each coordinate; keeping pixel ``j`` (clipped)
    instead of resetting it to ``x`` then lowers the squared distance by
    ``||d_j||^2 - ||d_j - clip(d_j)||^2`` (``d = x_adv - x``), so the projection keeps the ``k``
    pixels with the largest such gain: the projection of Croce & Hein (ICCV 2019, PGD_0). Unlike
    their code, ties never keep more than ``k`` pixels, and pixels not kept equal ``x`` bit for bit.
    """
    clipped = x_adv.clamp(0.0, 1.0)
    delta, kept = _pixels(x_adv - x), _pixels(clipped - x)
    gain = (delta.pow(2) - (delta - kept).pow(2)).sum(1)
    if k >= gain.shape[1]:
        return clipped
    mask = torch.zeros_like(gain, dtype=torch.bool).scatter_(1, gain.topk(k, dim=1).indices, True)
    shape = (x.shape[0], 1, *x.shape[2:]) if x.dim() >= 3 else x.shape
    return torch.where(mask.view(shape), clipped, x)
