"""A procedural stand-in for the frost photographs of ``frost`` (the original blends in a random
32x32 crop of one of five frost photos, which robnas does not ship).

DEPARTURE from CIFAR-10-C: the texture is synthetic. It is calibrated to the statistics of the
photo crops the original uses (each photo resized by 0.2 with OpenCV, as ``make_cifar_c.py``
does, then 32x32 crops), measured once offline:

=========  ======================  ===========  ================
photo      mean colour (R, G, B)   std in crop  crop-mean spread
=========  ======================  ===========  ================
frost1     0.30, 0.58, 0.65        0.06         0.045
frost2     0.79, 0.81, 0.84        0.07         0.035
frost3     0.79, 0.81, 0.84        0.07         0.035
frost4     0.54, 0.60, 0.65        0.10         0.045
frost5     0.44, 0.48, 0.53        0.135        0.07
=========  ======================  ===========  ================

Each image draws one of the five profiles uniformly (the original: ``randint(5)``), a brightness
offset with the profile's crop-mean spread, and a texture with the profile's standard deviation.
The texture mixes what frost looks like at this scale: ice-crystal needles (sparse seeds smeared
along three random directions with the ImageMagick motion-blur ray) over a rough
plasma fractal, plus per-pixel grain. Its RMS adjacent-pixel difference is about 1.1 standard deviations, as in the photo crops
(0.9-1.2): at this scale frost is dominated by fine structure, not smooth gradients.

Greyscale images get the luminance of the texture (0.299 R + 0.587 G + 0.114 B).
"""

from __future__ import annotations

import torch

from robnas.corruptions.filters import next_power_of_two
from robnas.corruptions.motion import motion_blur
from robnas.corruptions.plasma import plasma_fractal
from robnas.corruptions.sampling import normal, uniform

PROFILE_MEAN = ((0.30, 0.58, 0.65), (0.79, 0.81, 0.84), (0.79, 0.81, 0.84), (0.54, 0.60, 0.65), (0.44, 0.48, 0.53))
PROFILE_STD = (0.06, 0.07, 0.07, 0.10, 0.135)
PROFILE_SPREAD = (0.045, 0.035, 0.035, 0.045, 0.07)

NEEDLE_DENSITY = 0.06     # fraction of pixels that seed a crystal needle
NEEDLE_DIRECTIONS = 3     # needle orientations per image
NEEDLE_RADIUS, NEEDLE_SIGMA = 3, 2.0
FRACTAL_DECAY = 1.5       # < 2: rougher than fog's clouds
FRACTAL_WEIGHT = 0.5      # weights of the texture's parts relative to the needles (1)
GRAIN_WEIGHT = 0.5        # per-pixel grain: the photo crops are point-sampled, hence grainy


def _unit(x: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit standard deviation per image."""
    flat = x.flatten(1)
    flat = flat - flat.mean(dim=1, keepdim=True)
    return (flat / flat.std(dim=1, keepdim=True).clamp_min(1e-6)).view_as(x)


def frost_texture(count: int, channels: int, height: int, width: int, gen: torch.Generator,
                  like: torch.Tensor) -> torch.Tensor:
    """``[count, channels, height, width]`` frost textures in [0, 1] on ``like``'s device and dtype."""
    seeds = (uniform((count, 1, height, width), gen, like) < NEEDLE_DENSITY).to(like.dtype)
    seeds = seeds * uniform((count, 1, height, width), gen, like, 0.5, 1.0)
    needles = torch.zeros_like(seeds)
    for _ in range(NEEDLE_DIRECTIONS):
        angle = uniform((count,), gen, like, 0.0, 360.0)
        needles += motion_blur(seeds, NEEDLE_RADIUS, NEEDLE_SIGMA, angle)
    mapsize = max(2, next_power_of_two(max(height, width)))
    fractal = plasma_fractal(count, mapsize, FRACTAL_DECAY, gen, like)[:, None, :height, :width]
    grain = normal((count, 1, height, width), gen, like)
    texture = _unit(_unit(needles) + FRACTAL_WEIGHT * _unit(fractal) + GRAIN_WEIGHT * grain)  # [count, 1, H, W]

    profile = (uniform((count,), gen, like) * len(PROFILE_STD)).long().clamp(max=len(PROFILE_STD) - 1)
    mean = torch.tensor(PROFILE_MEAN, dtype=like.dtype, device=like.device)[profile]  # [count, 3]
    std = torch.tensor(PROFILE_STD, dtype=like.dtype, device=like.device)[profile]
    spread = torch.tensor(PROFILE_SPREAD, dtype=like.dtype, device=like.device)[profile]
    offset = spread * normal((count,), gen, like)
    colour = (mean + offset[:, None])[:, :, None, None]  # [count, 3, 1, 1]
    frost = (colour + std[:, None, None, None] * texture).clamp(0.0, 1.0)  # [count, 3, H, W]
    if channels == 1:
        luma = torch.tensor((0.299, 0.587, 0.114), dtype=like.dtype, device=like.device)
        frost = torch.einsum("c,nchw->nhw", luma, frost).unsqueeze(1)
    return frost
