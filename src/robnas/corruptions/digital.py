"""Digital corruptions: brightness, contrast, elastic transform, pixelate and JPEG compression.

Constants are those of CIFAR-10-C (``make_cifar_c.py`` in hendrycks/robustness).

* ``brightness``: +c on the HSV value channel, clipped at 1. With hue and saturation fixed,
  that scales all three channels by ``V' / V`` (a black pixel becomes grey ``c``), which is what
  skimage's rgb2hsv -> hsv2rgb round trip computes, without the conversion.
* ``contrast``: each channel pulled towards its mean by factor c.
* ``elastic_transform``: a random affine warp (OpenCV's ``getAffineTransform`` of three points
  jittered by up to ``affine`` pixels, ``warpAffine`` bilinear with ``BORDER_REFLECT_101``), then a
  smooth random displacement field (uniform noise through a skimage Gaussian with
  ``mode="reflect"`` and ``truncate=3``, times ``alpha``) sampled bilinearly like scipy's
  ``map_coordinates(order=1, mode="reflect")``. The original's constants are fractions of the
  image size 32; here they are fractions of ``min(H, W)`` (identical for 32x32). Note that the
  original's constants shrink the affine jitter (2.56 -> 0.96 px) while they grow the local
  displacement (0 -> ~0.5 px RMS): the *mean* pixel change falls with severity, the local
  distortion rises (the tests check both).
* ``pixelate``: PIL BOX resize down to ``int(side * c)`` pixels and BOX resize back up.
* ``jpeg_compression``: a JPEG encode/decode at the original's quality (see ``jpeg.py``).

Departures: PIL resizes 8-bit images with an 8-bit rounding after each of its two passes and
OpenCV's ``warpAffine`` quantises coordinates to 1/32 pixel; here both are exact in floating
point. Non-square images use ``(W // 2, H // 2)`` as the affine centre (the original uses
``(H // 2, W // 2)`` as an (x, y) point: the same for square images).
"""

from __future__ import annotations

import torch

from robnas.corruptions.filters import apply_separable, gaussian_blur
from robnas.corruptions.jpeg import jpeg_roundtrip
from robnas.corruptions.registry import register_corruption
from robnas.corruptions.resample import box_resize_matrix, sample_bilinear
from robnas.corruptions.sampling import uniform

BRIGHTNESS = (0.05, 0.1, 0.15, 0.2, 0.3)
CONTRAST = (0.75, 0.5, 0.4, 0.3, 0.15)
# alpha (displacement scale), sigma (field smoothness), affine jitter; fractions of the image side
ELASTIC = ((0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05), (0.1, 0.03, 0.03))
PIXELATE = (0.95, 0.9, 0.85, 0.75, 0.65)
JPEG_QUALITY = (80, 65, 58, 50, 40)


@register_corruption("brightness")
def brightness(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:  # noqa: ARG001
    value = x.amax(dim=1, keepdim=True)
    brighter = (value + BRIGHTNESS[severity - 1]).clamp(max=1.0)
    scale = brighter / value.clamp_min(torch.finfo(x.dtype).tiny)
    return torch.where(value > 0, x * scale, brighter.expand_as(x))


@register_corruption("contrast")
def contrast(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:  # noqa: ARG001
    means = x.mean(dim=(2, 3), keepdim=True)
    return (x - means) * CONTRAST[severity - 1] + means


def affine_source_coords(jitter: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each output pixel reads in the input under the original's random affine warp.

    ``jitter`` is ``[N, 3, 2]`` (the (x, y) offsets of the three control points). The warp maps
    the control points to their jittered positions; we solve directly for the inverse map
    (jittered -> original), which is what ``warpAffine`` applies to every output pixel.
    Returns (rows, cols), each ``[N, H, W]``.
    """
    dtype = torch.float64
    centre = torch.tensor([width // 2, height // 2], dtype=dtype)
    half = min(height, width) // 3
    offsets = torch.tensor([[half, half], [half, -half], [-half, -half]], dtype=dtype)
    source = (centre + offsets).to(jitter.device)  # [3, 2] control points (x, y)
    target = source + jitter.to(dtype)  # [N, 3, 2]
    ones = torch.ones(*target.shape[:2], 1, dtype=dtype, device=jitter.device)
    inverse = torch.linalg.solve(torch.cat([target, ones], dim=2), source.expand_as(target))  # [N, 3, 2]
    ys, xs = torch.meshgrid(torch.arange(height, dtype=dtype, device=jitter.device),
                            torch.arange(width, dtype=dtype, device=jitter.device), indexing="ij")
    grid = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1).reshape(-1, 3)  # [H*W, 3]
    mapped = grid @ inverse  # [N, H*W, 2] (x, y)
    return mapped[..., 1].reshape(-1, height, width), mapped[..., 0].reshape(-1, height, width)


def random_affine(x: torch.Tensor, jitter: float, gen: torch.Generator) -> torch.Tensor:
    """The original's affine step: control points jittered by up to ``jitter`` pixels, reflected border."""
    batch, _, height, width = x.shape
    offsets = uniform((batch, 3, 2), gen, x, -jitter, jitter)
    rows, cols = affine_source_coords(offsets, height, width)
    return sample_bilinear(x, rows.to(x.dtype), cols.to(x.dtype), "reflect101")


def random_displacement(x: torch.Tensor, alpha: float, sigma: float, gen: torch.Generator) -> torch.Tensor:
    """The original's elastic step: each pixel reads ``alpha * smoothed U(-1, 1)`` pixels away (dx, dy)."""
    batch, _, height, width = x.shape
    fields = uniform((batch, 2, height, width), gen, x, -1.0, 1.0)
    fields = gaussian_blur(fields, sigma, mode="symmetric", truncate=3.0) * alpha
    base_r = torch.arange(height, dtype=x.dtype, device=x.device)[None, :, None]
    base_c = torch.arange(width, dtype=x.dtype, device=x.device)[None, None, :]
    return sample_bilinear(x, base_r + fields[:, 1], base_c + fields[:, 0], "symmetric")


@register_corruption("elastic_transform")
def elastic_transform(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    alpha, sigma, jitter = (f * min(x.shape[-2:]) for f in ELASTIC[severity - 1])
    warped = random_affine(x, jitter, gen)
    if alpha == 0:  # severity 1: no displacement field (the original multiplies it by 0)
        return warped
    return random_displacement(warped, alpha, sigma, gen)


@register_corruption("pixelate")
def pixelate(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:  # noqa: ARG001
    height, width = x.shape[-2:]
    factor = PIXELATE[severity - 1]
    small_h, small_w = max(1, int(height * factor)), max(1, int(width * factor))
    # Down then up is one linear map per axis: (up @ down) applied to rows and columns.
    rows = box_resize_matrix(small_h, height, x.dtype, x.device) @ box_resize_matrix(height, small_h, x.dtype, x.device)
    cols = box_resize_matrix(small_w, width, x.dtype, x.device) @ box_resize_matrix(width, small_w, x.dtype, x.device)
    return apply_separable(x, rows, cols)


@register_corruption("jpeg_compression")
def jpeg_compression(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:  # noqa: ARG001
    return jpeg_roundtrip(x, JPEG_QUALITY[severity - 1])
