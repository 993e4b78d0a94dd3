"""The 8-bit steps of the original corruptions: truncation as ``np.uint8`` does it, and 8-bit samples.

CIFAR-10-C is stored as uint8: ``make_cifar_c.py``'s driver keeps ``np.uint8(c(x))`` of each
corruption's value on the 0..255 scale, which *truncates* (a float output loses 0.5 grey levels
on average), and some corruptions pass through 8-bit images on the way (``glass_blur``'s
``np.uint8``, the snow layer's ``astype(np.uint8)``, the PNG/ImageMagick and PIL round trips,
which round in their own ways: see ``motion.py`` and ``digital.pixelate``).

Levels are kept as floats ``k / 255`` in the caller's dtype (``(k / 255) * 255 == k`` exactly in
float32 and float64 for every k, so a value on a level stays on it).

Truncation counts a value within a few float round-offs below a level (:func:`level_tolerance`)
as that level: float round-off of an exactly representable level (a blur of a flat region)
must not drop a whole level. The original's own float64 round-off does drop some of those
(e.g. ``np.uint8(gaussian(k / 255, 0.4) * 255)`` is ``k - 1`` for 56 of the 256 flat grey levels
with scipy 1.17, and a flat white region becomes 254); which ones depends on the scipy version's
summation order and is not reproduced. Where robnas can repeat the original's elementwise
float64 operations exactly (``brightness``'s HSV round trip) it truncates without tolerance.
"""

from __future__ import annotations

import torch

LEVEL_TOLERANCE_EPS = 1024  # in units of the dtype's machine epsilon, on the 0..255 scale (4 ulps of 1.0)


def level_tolerance(dtype: torch.dtype) -> float:
    """Grey levels below a level still counted as that level: 1.2e-4 in float32, 2.3e-13 in float64."""
    return LEVEL_TOLERANCE_EPS * torch.finfo(dtype).eps


def truncate_to_levels(x: torch.Tensor) -> torch.Tensor:
    """``np.uint8(x * 255) / 255`` for ``x`` in [0, 1]: the level at or below each value."""
    return torch.floor(x * 255.0 + level_tolerance(x.dtype)) / 255.0


def truncate_exactly(x: torch.Tensor) -> torch.Tensor:
    """``np.uint8(np.clip(x, 0, 1) * 255) / 255`` without tolerance, in ``x``'s own dtype.

    For values computed with the original's own float operations (same dtype, same order): their
    round-off is then the original's, and truncating it as numpy does gives the stored levels.
    """
    return torch.floor(x.clamp(0.0, 1.0) * 255.0) / 255.0


def eight_bit(x: torch.Tensor) -> torch.Tensor:
    """The 8-bit samples (integer-valued float64 0..255) of an image in [0, 1] that is stored as 8 bits.

    The nearest level, as robnas's float inputs on the 1/255 grid are CIFAR's uint8 images.
    """
    return torch.round(x.to(torch.float64).clamp(0.0, 1.0) * 255.0)


def on_levels(x: torch.Tensor) -> torch.Tensor:
    """``x`` moved to the nearest level ``k / 255`` (unchanged for images read from uint8)."""
    return (eight_bit(x) / 255.0).to(x.dtype)
