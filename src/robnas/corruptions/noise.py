"""Noise corruptions: Gaussian, shot (Poisson) and impulse (salt-and-pepper), per pixel and channel.

Constants are those of CIFAR-10-C (``make_cifar_c.py`` in hendrycks/robustness), with the same
formulas: ``x + N(0, c^2)``, ``Poisson(x c) / c``, and for impulse noise scikit-image's
``random_noise(x, mode="s&p", amount=c)``.

Impulse noise: since scikit-image 0.13.0 (March 2017; the change is of July 2016, and 0.14-0.16
keep it), ``s&p`` flips each value independently: ``choice([True, False], p=[c, 1 - c])``, which
is ``u < c`` for a uniform ``u``, then salt (1) or pepper (0) with a second ``u' < 0.5``. robnas
does exactly that with two uniform draws per value. The script does not pin its scikit-image;
any release of 2017-2019 behaves so. Only scikit-image 0.12 and older (to March 2016) chose a
fixed number of positions with ``randint(0, dim - 1)`` instead, never reaching the last row,
column or channel (blue would carry no impulses in CIFAR-10-C had it been made with one).
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
