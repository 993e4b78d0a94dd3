"""ImageMagick's ``MotionBlurImage`` (used by ``motion_blur`` and ``snow``), one angle per image.

ImageMagick blurs along a ray, not a centred line: output pixel ``p`` is
``sum_i k_i * x(p + o_i)`` for ``i = 0 .. width-1`` with ``width = 2 * ceil(radius) + 1``,
one-sided Gaussian weights ``k_i ~ exp(-i^2 / (2 sigma^2))`` (normalised to sum 1) and integer
offsets ``o_i = (ceil(i cos a - 1/2), ceil(i sin a - 1/2))`` (x right, y down); samples past the
border repeat the edge pixel (ImageMagick's default virtual-pixel method).

Each image has its own angle, so each tap is one batched gather over the flat pixel positions;
the Python loop runs over the ``width`` taps (at most 29 for the CIFAR-10-C constants).

The original runs it through Wand on a PNG of the 8-bit image and decodes the PNG ImageMagick
writes back, so its result is 8-bit and *rounded*, not truncated: ImageMagick 6 (Q16, the
Debian/Ubuntu build) reads sample ``k`` as ``257 k``, stores the weighted sum as a 16-bit quantum
with ``ClampToQuantum`` (``(Quantum)(v + 0.5)``) and writes it to the 8-bit PNG with
``ScaleQuantumToChar`` (``((q + 128) - ((q + 128) >> 8)) >> 8``, rounding ``q / 257``); its HDRI
and Q8 builds round too. :func:`motion_blur_8bit` does that round trip.
"""

from __future__ import annotations

import math

import torch

from robnas.corruptions.levels import eight_bit


def motion_kernel(radius: float, sigma: float) -> list[float]:
    """The one-sided Gaussian tap weights of ``MotionBlurImage(radius, sigma)``."""
    width = int(2 * math.ceil(radius) + 1)
    weights = [math.exp(-(i * i) / (2.0 * sigma * sigma)) for i in range(width)]
    total = sum(weights)
    return [w / total for w in weights]


def motion_blur(x: torch.Tensor, radius: float, sigma: float, angle_deg: torch.Tensor) -> torch.Tensor:
    """Blur image ``n`` of ``x`` (``[N, C, H, W]``) along ``angle_deg[n]`` degrees."""
    batch, channels, height, width = x.shape
    flat = x.reshape(batch, channels, height * width)
    angle = torch.deg2rad(angle_deg.to(device=x.device, dtype=torch.float64))
    cos, sin = torch.cos(angle), torch.sin(angle)
    rows = torch.arange(height, device=x.device)
    cols = torch.arange(width, device=x.device)
    out = torch.zeros_like(flat)
    for tap, weight in enumerate(motion_kernel(radius, sigma)):
        dx = torch.ceil(tap * cos - 0.5).long()  # [N]
        dy = torch.ceil(tap * sin - 0.5).long()
        r = (rows[None, :] + dy[:, None]).clamp(0, height - 1)  # [N, H]
        c = (cols[None, :] + dx[:, None]).clamp(0, width - 1)  # [N, W]
        index = (r[:, :, None] * width + c[:, None, :]).reshape(batch, 1, height * width)
        out.add_(flat.gather(2, index.expand(batch, channels, height * width)), alpha=weight)
    return out.reshape(batch, channels, height, width)


def motion_blur_8bit(x: torch.Tensor, radius: float, sigma: float, angle_deg: torch.Tensor) -> torch.Tensor:
    """:func:`motion_blur` as the original's Wand round trip returns it: 8-bit levels ``k / 255``, rounded."""
    quantum = motion_blur(eight_bit(x) * 257.0, radius, sigma, angle_deg)  # float64, Q16 units
    q16 = torch.floor(quantum + 0.5).clamp(0, 65535).long()
    char = ((q16 + 128) - ((q16 + 128) >> 8)) >> 8
    return char.to(x.dtype) / 255.0
