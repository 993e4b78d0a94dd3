"""Weather corruptions: snow, frost and fog.

Constants are those of CIFAR-10-C (``make_cifar_c.py`` in hendrycks/robustness).

* ``snow``: a Gaussian noise layer (one channel), zoomed by the original's ``clipped_zoom``,
  thresholded, stored as 8 bits (truncated), smeared by ImageMagick's motion blur at a random
  angle in [-135, -45) degrees (see ``motion.py``), added twice (as is and rotated by 180
  degrees) to the image after the original's whitening ``max(x, 1.5 * grey + 0.5)`` blend. The
  original's blurred layer comes back from ImageMagick as an 8-bit PNG (rounded); robnas keeps
  it unrounded unless ``corrupt(..., quantize=True)``.
* ``frost``: ``a * x + b * frost`` with the original's ``(a, b)``.
  DEPARTURE: the frost layer is procedural (see ``frost_texture.py``) instead of a crop of one
  of the five frost photographs; it is calibrated to their colour and contrast.
* ``fog``: the image plus ``strength`` times a diamond-square plasma fractal (see ``plasma.py``),
  rescaled by ``max / (max + strength)`` with the image's maximum. The fractal's map is the
  smallest power of two covering the image (the original: 32 for 32x32 CIFAR images).

The original's results are 8-bit (``make_cifar_c.py`` stores ``np.uint8``, truncating); robnas
returns floats unless ``corrupt(..., quantize=True)``, which also rounds the blurred snow layer
as ImageMagick does.
"""

from __future__ import annotations

import torch

from robnas.corruptions.filters import apply_separable, next_power_of_two
from robnas.corruptions.frost_texture import frost_texture
from robnas.corruptions.levels import eight_bit, truncate_exactly, truncate_to_levels
from robnas.corruptions.motion import motion_blur, motion_blur_8bit
from robnas.corruptions.plasma import plasma_fractal
from robnas.corruptions.registry import register_corruption
from robnas.corruptions.resample import clipped_zoom_matrix
from robnas.corruptions.sampling import normal, uniform

# mean, std, zoom, threshold, blur radius, blur sigma, image weight
SNOW = (
    (0.1, 0.2, 1, 0.6, 8, 3, 0.95),
    (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
    (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
    (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
    (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8),
)
FROST = ((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45))    # image weight, frost weight
FOG = ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75))            # strength, fractal decay

_LUMA = (0.299, 0.587, 0.114)  # OpenCV's RGB2GRAY


def grey(x: torch.Tensor) -> torch.Tensor:
    """``[N, 1, H, W]`` luminance of RGB images (greyscale images are their own luminance)."""
    if x.shape[1] == 1:
        return x
    weights = torch.tensor(_LUMA, dtype=x.dtype, device=x.device)
    return torch.einsum("c,nchw->nhw", weights, x).unsqueeze(1)


@register_corruption("snow")
def snow(x: torch.Tensor, severity: int, gen: torch.Generator, *, quantize: bool = False) -> torch.Tensor:
    """``quantize``: the blurred layer as the 8-bit PNG ImageMagick writes (rounded; see ``motion.py``),
    and the original's float32 blend (:func:`snow_blend_float32`) truncated as ``np.uint8`` does."""
    mean, std, zoom, threshold, radius, sigma, keep = SNOW[severity - 1]
    batch, _, height, width = x.shape
    layer = normal((batch, 1, height, width), gen, x, mean, std)
    rows = clipped_zoom_matrix(height, zoom, x.dtype, x.device)
    cols = clipped_zoom_matrix(width, zoom, x.dtype, x.device)
    layer = apply_separable(layer, rows, cols)
    layer = torch.where(layer < threshold, torch.zeros_like(layer), layer)
    layer = truncate_to_levels(layer.clamp(0.0, 1.0))  # stored as an 8-bit image (astype(np.uint8) truncates)
    angle = uniform((batch,), gen, x, -135.0, -45.0)
    if quantize:
        flakes = motion_blur_8bit(layer, radius, sigma, angle).to(torch.float64)
        return truncate_exactly(snow_blend_float32(x, keep) + flakes + flakes.flip(-2, -1)).to(x.dtype)
    layer = motion_blur(layer, radius, sigma, angle)
    whitened = keep * x + (1 - keep) * torch.maximum(x, grey(x) * 1.5 + 0.5)
    return whitened + layer + layer.flip(-2, -1)


def snow_blend_float32(x: torch.Tensor, keep: float) -> torch.Tensor:
    """The original's whitening blend as it computes it: in float32 (its image is ``float32 / 255.``).

    Where the image outshines ``1.5 * grey + 0.5`` the blend is ``keep * x + (1 - keep) * x``, exactly
    ``x`` in exact arithmetic but a float32 round-off below it for some levels, which the final
    truncation then drops a level: repeating the float32 operations keeps those drops.
    """
    image = eight_bit(x).to(torch.float32) / 255.0
    brighter = torch.maximum(image, grey(image) * 1.5 + 0.5)
    return (keep * image + (1 - keep) * brighter).to(torch.float64)


@register_corruption("frost")
def frost(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    image_weight, frost_weight = FROST[severity - 1]
    batch, channels, height, width = x.shape
    return image_weight * x + frost_weight * frost_texture(batch, channels, height, width, gen, x)


@register_corruption("fog")
def fog(x: torch.Tensor, severity: int, gen: torch.Generator, *, quantize: bool = False) -> torch.Tensor:
    """``quantize``: the original's float64 operations on the 8-bit image, truncated as ``np.uint8`` does."""
    strength, decay = FOG[severity - 1]
    batch, _, height, width = x.shape
    mapsize = max(2, next_power_of_two(max(height, width)))
    fractal = plasma_fractal(batch, mapsize, decay, gen, x)[:, None, :height, :width]
    image = eight_bit(x) / 255.0 if quantize else x
    peak = image.amax(dim=(1, 2, 3), keepdim=True)
    out = (image + strength * fractal.to(image.dtype)) * peak / (peak + strength)
    return truncate_exactly(out).to(x.dtype) if quantize else out
