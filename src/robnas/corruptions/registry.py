"""The corruption registry and the one entry point, :func:`corrupt`.

A corruption is a function ``(images, severity, generator) -> images`` on a float batch
``[N, C, H, W]`` in [0, 1]; it draws every random number from ``generator`` (never the global
RNG) and may return values slightly outside [0, 1], which :func:`corrupt` clips (the original
script clips at the end of every corruption too). :func:`corrupt` validates the inputs once,
so the corruption functions themselves stay pure arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral

import torch

from robnas.errors import InvalidValueError
from robnas.registry import Registry

CorruptionFn = Callable[[torch.Tensor, int, torch.Generator], torch.Tensor]

SEVERITIES = (1, 2, 3, 4, 5)

# Hendrycks & Dietterich's order (noise, blur, weather, digital): list_corruptions() and reports use it.
CIFAR10C_ORDER = (
    "gaussian_noise", "shot_noise", "impulse_noise",
    "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog",
    "brightness", "contrast", "elastic_transform", "pixelate", "jpeg_compression",
)
_RANK = {name: i for i, name in enumerate(CIFAR10C_ORDER)}

CORRUPTIONS: Registry[CorruptionFn] = Registry("corruption", order=lambda n: (_RANK.get(n, len(_RANK)), n))


def register_corruption(name: str) -> Callable[[CorruptionFn], CorruptionFn]:
    """Decorator: make ``fn(images, severity, generator)`` available to :func:`corrupt` as ``name``."""
    return CORRUPTIONS.register(name)


def list_corruptions(pattern: str = "*") -> list[str]:
    """Registered corruption names matching a shell-style pattern, in the CIFAR-10-C order."""
    return CORRUPTIONS.names(pattern)


def check_severity(severity: object) -> int:
    if isinstance(severity, bool) or not isinstance(severity, Integral) or int(severity) not in SEVERITIES:
        raise InvalidValueError(f"corruption severity must be an integer 1..5, got {severity!r}")
    return int(severity)


def check_images(images: object) -> torch.Tensor:
    """A float ``[N, C, H, W]`` batch with C = 1 or 3 and values in [0, 1]."""
    if not isinstance(images, torch.Tensor):
        raise InvalidValueError(f"corrupt() needs a torch.Tensor of images, got {type(images).__name__}")
    if not images.is_floating_point():
        raise InvalidValueError(f"corrupt() needs float images in [0, 1], got dtype {images.dtype}; "
                                f"convert uint8 images with images.float() / 255")
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise InvalidValueError(f"corrupt() needs images shaped [N, C, H, W] with C = 1 (grey) or 3 (RGB), "
                                f"got {tuple(images.shape)}")
    if images.numel() and (images.amin() < 0 or images.amax() > 1):
        raise InvalidValueError(f"corrupt() needs pixel values in [0, 1], got min {images.amin().item():.4g} and "
                                f"max {images.amax().item():.4g}; pass images scaled to [0, 1] (uint8 / 255)")
    return images


def corrupt(name: str, images: torch.Tensor, severity: int, generator: torch.Generator) -> torch.Tensor:
    """``images`` corrupted by ``name`` at ``severity`` (1..5): same shape, dtype and device, values in [0, 1].

    Unknown names raise UnknownNameError (checked first, so a name can be validated on its own);
    bad severities, images or generators raise InvalidValueError. Deterministic given the
    generator's state; the global RNG is never used.
    """
    fn = CORRUPTIONS.get(name)
    severity = check_severity(severity)
    images = check_images(images)
    if not isinstance(generator, torch.Generator):
        raise InvalidValueError(f"corrupt() needs an explicit torch.Generator (robnas.rng.make_generator(seed)), "
                                f"got {type(generator).__name__}")
    if images.shape[0] == 0:
        return images.clone()
    # Half precision is too coarse for the JPEG/DCT and fixed-point steps: compute in float32 then.
    work = images if images.dtype in (torch.float32, torch.float64) else images.to(torch.float32)
    out = fn(work, severity, generator)
    return out.clamp(0.0, 1.0).to(images.dtype)
