"""Noise corruptions: Gaussian, shot (Poisson) and impulse (salt-and-pepper), per pixel and channel.

Constants are those of CIFAR-10-C (``make_cifar_c.py`` in hendrycks/robustness).

Departure (impulse noise): the original calls ``skimage.util.random_noise(mode="s&p")``. The
scikit-image of 2018 chose a fixed number of positions with ``randint(0, dim - 1)``, which never
hits the last row, column or channel; current scikit-image (and this code) flips each value
independently with probability ``amount`` to 0 or 1 with equal odds. Same expected fraction,
no blind last row/column/channel.
"""

from __future__ import annotations

import torch

from robnas.corruptions.registry import register_corruption
from robnas.corruptions.sampling import normal, uniform

GAUSSIAN_SIGMA = (0.04, 0.06, 0.08, 0.09, 0.10)
SHOT_PHOTONS = (500, 250, 100, 75, 50)       # photons at full intensity: fewer = noisier
IMPULSE_AMOUNT = (0.01, 0.02, 0.03, 0.05, 0.07)


@register_corruption("gaussian_noise")
def gaussian_noise(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    return normal(x.shape, gen, x, std=GAUSSIAN_SIGMA[severity - 1]).add_(x)


@register_corruption("shot_noise")
def shot_noise(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    photons = SHOT_PHOTONS[severity - 1]
    rate = (x * photons).to(gen.device)  # torch.poisson draws on the generator's device
    return torch.poisson(rate, generator=gen).to(x.device) / photons


@register_corruption("impulse_noise")
def impulse_noise(x: torch.Tensor, severity: int, gen: torch.Generator) -> torch.Tensor:
    flipped = uniform(x.shape, gen, x) < IMPULSE_AMOUNT[severity - 1]
    salt = (uniform(x.shape, gen, x) < 0.5).to(x.dtype)
    return torch.where(flipped, salt, x)
