"""ImageMagick's ``MotionBlurImage`` (used by ``motion_blur`` and ``snow``), one angle per image.

ImageMagick blurs along a ray, not a centred line: output pixel ``p`` is
``sum_i k_i * x(p + o_i)`` for ``i = 0 .. width-1`` with ``width = 2 * ceil(radius) + 1``,
one-sided Gaussian weights ``k_i ~ exp(-i^2 / (2 sigma^2))`` (normalised to sum 1) and integer
offsets ``o_i = (ceil(i cos a - 1/2), ceil(i sin a - 1/2))`` (x right, y down); samples past the
border repeat the edge pixel (ImageMagick's default virtual-pixel method).

Each image has its own angle, so each tap is one batched gather over the flat pixel positions;
the Python loop runs over the ``width`` taps (at most 29 for the CIFAR-10-C constants).
"""

from __future__ import annotations

import math

import torch


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
