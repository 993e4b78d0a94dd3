"""Digital corruptions: brightness, contrast, elastic transform, pixelate and JPEG compression.

Constants are those of CIFAR-10-C (``make_cifar_c.py`` in hendrycks/robustness).

* ``brightness``: +c on the HSV value channel, clipped at 1. With hue and saturation fixed,
  that scales all three channels by ``V' / V`` (a black pixel becomes grey ``c``), which is what
  skimage's rgb2hsv -> hsv2rgb round trip computes, without the conversion. Many results are
  exact levels (``c = 0.2`` is 51 levels; 88 * 114.75 / 102 = 99), some of which the original's
  float64 round trip lands just below and truncates one level lower (3% of the values of a test
  batch), so ``quantize=True`` repeats that round trip's float64 operations and truncation.
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
* ``pixelate``: PIL BOX resize down to ``int(side * c)`` pixels and BOX resize back up. The
  original resizes the 8-bit PIL image, and PIL rounds to 8 bits after each axis (horizontal,
  then vertical) of each resize; robnas computes the two resizes exactly unless
  ``corrupt(..., quantize=True)``, which does PIL's 8-bit passes (``resample.pil_pass_8bit``).
* ``jpeg_compression``: a JPEG encode/decode at the original's quality (see ``jpeg.py``): bit for
  bit what PIL (libjpeg-turbo) decodes, already 8-bit.

The original stores every result as 8 bits (``np.uint8``, truncating): see ``levels.py`` and
``corrupt(..., quantize=True)``.

Departures: OpenCV's ``warpAffine`` (3.x/4.x, as in 2018) quantises coordinates to 1/32 pixel;
here they are exact in floating point (OpenCV 5.0's ``warpAffine`` agrees with exact coordinates:
with ``quantize=True`` robnas's elastic transform differed from it on 1-3 values in 10^4 of a
test batch, all by one level). Non-square images use ``(W // 2, H // 2)`` as the affine centre
(the original uses ``(H // 2, W // 2)`` as an (x, y) point: the same for square images).
"""

from __future__ import annotations

import torch

from robnas.corruptions.filters import apply_separable, gaussian_blur
from robnas.corruptions.jpeg import jpeg_roundtrip
from robnas.corruptions.levels import eight_bit
from robnas.corruptions.registry import register_corruption
from robnas.corruptions.resample import box_resize_matrix, pil_pass_8bit, sample_bilinear
from robnas.corruptions.sampling import uniform

BRIGHTNESS = (0.05, 0.1, 0.15, 0.2, 0.3)
CONTRAST = (0.75, 0.5, 0.4, 0.3, 0.15)
# alpha (displacement scale), sigma (field smoothness), affine jitter; fractions of the image side
ELASTIC = ((0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05), (0.1, 0.03, 0.03))
PIXELATE = (0.95, 0.9, 0.85, 0.75, 0.65)
JPEG_QUALITY = (80, 65, 58, 50, 40)


def rgb_to_hsv(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hexcone HSV of ``[N, 3, H, W]`` (hue in [0, 1); grey pixels get hue and saturation 0), as skimage computes it."""
    r, g, b = rgb.unbind(1)
    value = rgb.amax(dim=1)
    spread = value - rgb.amin(dim=1)
    saturation = torch.where(spread == 0, torch.zeros_like(value), spread / value)
    # The sector of the largest channel; on ties the later channel wins (skimage assigns in this order).
    hue = torch.where(r == value, (g - b) / spread, torch.zeros_like(value))
    hue = torch.where(g == value, 2.0 + (b - r) / spread, hue)
    hue = torch.where(b == value, 4.0 + (r - g) / spread, hue)
    hue = torch.where(spread == 0, torch.zeros_like(value), torch.remainder(hue / 6.0, 1.0))
    return hue, saturation, value


def hsv_to_rgb(hue: torch.Tensor, saturation: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """``[N, 3, H, W]`` RGB of hexcone HSV planes ``[N, H, W]`` (skimage's formulas, operation for operation)."""
    sector = torch.floor(hue * 6)
    frac = hue * 6 - sector
    low = value * (1 - saturation)
    falling = value * (1 - frac * saturation)
    rising = value * (1 - (1 - frac) * saturation)
    sector = sector.long().remainder(6)

    def pick(*per_sector: torch.Tensor) -> torch.Tensor:  # the channel's value in sectors 0..5
        out = per_sector[5]
        for k in range(4, -1, -1):
            out = torch.where(sector == k, per_sector[k], out)
        return out

    return torch.stack([pick(value, falling, low, low, rising, value),
                        pick(rising, value, value, falling, low, low),
                        pick(low, low, rising, value, value, falling)], dim=1)


def brightness_8bit(x: torch.Tensor, shift: float) -> torch.Tensor:
    """The original's brightness on the 8-bit image: float64 HSV round trip, clip, ``np.uint8`` truncation."""
    rgb = (eight_bit(x) / 255.0).expand(-1, 3, -1, -1)  # a grey image as the RGB image it stands for
    hue, saturation, value = rgb_to_hsv(rgb)
    out = hsv_to_rgb(hue, saturation, (value + shift).clamp(0.0, 1.0)).clamp(0.0, 1.0)
    return (torch.floor(out * 255.0) / 255.0)[:, :x.shape[1]].to(x.dtype)


@register_corruption("brightness")
def brightness(x: torch.Tensor, severity: int, gen: torch.Generator,  # noqa: ARG001
               *, quantize: bool = False) -> torch.Tensor:
    """``quantize``: the original's float64 HSV round trip and its truncation (see the module docstring)."""
    if quantize:
        return brightness_8bit(x, BRIGHTNESS[severity - 1])
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
def pixelate(x: torch.Tensor, severity: int, gen: torch.Generator,  # noqa: ARG001
             *, quantize: bool = False) -> torch.Tensor:
    """``quantize``: PIL's 8-bit passes, each rounded (the original's result, bit for bit)."""
    height, width = x.shape[-2:]
    factor = PIXELATE[severity - 1]
    small_h, small_w = max(1, int(height * factor)), max(1, int(width * factor))
    dtype, device = (torch.float64 if quantize else x.dtype), x.device
    down_h, up_h = box_resize_matrix(height, small_h, dtype, device), box_resize_matrix(small_h, height, dtype, device)
    down_w, up_w = box_resize_matrix(width, small_w, dtype, device), box_resize_matrix(small_w, width, dtype, device)
    if quantize:
        samples = eight_bit(x)
        for matrix, dim in ((down_w, -1), (down_h, -2), (up_w, -1), (up_h, -2)):  # PIL: horizontal first
            samples = pil_pass_8bit(samples, matrix, dim)
        return samples.to(x.dtype) / 255.0
    # Down then up is one linear map per axis: (up @ down) applied to rows and columns.
    return apply_separable(x, up_h @ down_h, up_w @ down_w)


@register_corruption("jpeg_compression")
def jpeg_compression(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:  # noqa: ARG001
    return jpeg_roundtrip(x, JPEG_QUALITY[severity - 1])
