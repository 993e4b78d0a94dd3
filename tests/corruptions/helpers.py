"""Test inputs for the corruption tests: smooth random colour images and a seeded generator."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from robnas.rng import make_generator


def smooth_images(count: int = 16, channels: int = 3, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Natural-looking stand-ins: random colour fields at two scales (4x4 and 8x8 cells) upsampled smoothly.

    Smooth, mid-range content with edges of moderate contrast, like downsampled photos: every
    corruption's perturbation then grows with the strength of its constants unless the
    constants themselves are not ordered (see the severity tests).
    """
    gen = make_generator(seed)
    coarse = torch.rand(count, channels, 4, 4, generator=gen)
    fine = torch.rand(count, channels, 8, 8, generator=gen)
    x = 0.7 * F.interpolate(coarse, size=size, mode="bicubic", align_corners=False)
    x = x + 0.3 * F.interpolate(fine, size=size, mode="bilinear", align_corners=False)
    return x.clamp(0.0, 1.0)


def gen(seed: int = 0) -> torch.Generator:
    return make_generator(seed)
