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


def pinned_image(white_patch: bool = False) -> torch.Tensor:
    """One deterministic 32x32 RGB image on the 8-bit grid, ``[1, 3, 32, 32]`` float64.

    Red: a diagonal ramp that wraps (a hard edge); green: smooth waves; blue: a gradient; all
    with a small irregular texture so that no region is flat. ``white_patch`` adds a flat white
    10x10 patch to blue: flat regions are where 8-bit truncation depends on float round-off
    (see ``levels.py``), which robnas repeats for glass blur but not for every corruption.
    """
    rows, cols = torch.meshgrid(torch.arange(32.0, dtype=torch.float64), torch.arange(32.0, dtype=torch.float64),
                                indexing="ij")
    texture = (rows * 13 + cols * cols * 7 + rows * cols * 5) % 9
    red = (rows * 7 + cols * 3 + texture) % 256
    green = 128 + 90 * torch.sin(rows / 4) * torch.cos(cols / 6) + texture
    blue = 40 + 5 * rows + 2 * cols + texture
    if white_patch:
        blue[3:13, 18:28] = 255
    return (torch.stack([red, green, blue]).round().clamp(0, 255) / 255)[None]


PINNED_PIXELS = ((0, 0), (4, 22), (12, 27), (16, 16), (23, 5), (31, 31))


def level_summary(levels: torch.Tensor) -> dict[str, object]:
    """A pinned-test summary of one ``[3, 32, 32]`` image of 8-bit levels (integer-valued).

    Sums over the four 16x16 quadrants per channel, a position-weighted checksum (which also
    sees pixels moving inside a quadrant) and the RGB values at :data:`PINNED_PIXELS`.
    """
    levels = levels.to(torch.float64).round().long()
    quadrants = [[int(levels[c, r:r + 16, q:q + 16].sum()) for r in (0, 16) for q in (0, 16)] for c in range(3)]
    c, i, j = torch.meshgrid(torch.arange(3), torch.arange(32), torch.arange(32), indexing="ij")
    checksum = int((levels * ((i * 31 + j * 17 + c * 7) % 13)).sum())
    pixels = [tuple(int(v) for v in levels[:, r, q]) for r, q in PINNED_PIXELS]
    return {"quadrants": quadrants, "checksum": checksum, "pixels": pixels}
