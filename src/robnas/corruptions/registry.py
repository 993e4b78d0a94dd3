"""The corruption registry and the one entry point, :func:`corrupt`.

A corruption is a function ``(images, severity, generator, *, options...) -> images`` on a float
batch ``[N, C, H, W]`` in [0, 1]; it draws every random number from ``generator`` (never the
global RNG) and may return values slightly outside [0, 1], which :func:`corrupt` clips (the
original script clips at the end of every corruption too). Its keyword-only parameters are its
options, passed through :func:`corrupt`; one named ``quantize`` receives :func:`corrupt`'s flag
and does the corruption's own 8-bit steps (rounding PNG/PIL round trips). :func:`corrupt`
validates the inputs and option names once, so the corruption functions stay arithmetic.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from numbers import Integral

import torch

from robnas.corruptions.levels import on_levels, truncate_to_levels
from robnas.errors import InvalidValueError
from robnas.registry import Registry

CorruptionFn = Callable[..., torch.Tensor]  # (images, severity, generator, *, options) -> images

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


@functools.cache
def corruption_options(fn: CorruptionFn) -> tuple[str, ...]:
    """The keyword-only parameters of a corruption function (``quantize`` included when it has one)."""
    return tuple(p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY)


def corrupt(name: str, images: torch.Tensor, severity: int, generator: torch.Generator, *,
            quantize: bool = False, **options: object) -> torch.Tensor:
    """``images`` corrupted by ``name`` at ``severity`` (1..5): same shape, dtype and device, values in [0, 1].

    ``quantize=False`` (the default) returns the corruption's unrounded values. ``quantize=True``
    returns what CIFAR-10-C stores, as levels ``k / 255``: the input is taken as the 8-bit image
    the original corrupts (values moved to the nearest level: no change for images read from
    uint8), the corruption does its own 8-bit steps (ImageMagick's rounding in ``motion_blur`` and
    ``snow``, PIL's rounded passes in ``pixelate``; ``jpeg_compression`` is 8-bit anyway) and,
    where float round-off decides a truncation, repeats the original's float operations
    (``glass_blur``, ``zoom_blur``, ``snow``, ``fog``, ``brightness``; ``defocus_blur`` in float64
    with OpenCV's float32 kernel), and the result is truncated as ``make_cifar_c.py``'s
    ``np.uint8(...)`` truncates the clipped 0..255 value (see ``levels.py``). Against a numpy
    transcription of the original fed the same draws, float32 inputs then differ on at most 2 in
    10^4 values, by one level. Unrounded values lie on average 0.4-0.5 grey levels above the
    stored ones for the float-output corruptions. ``quantize=True`` costs about 2.4x the time.
    ``options`` are the corruption's own keyword options, e.g. ``glass_blur``'s
    ``shuffle="copy"`` (as published, the default) or ``"swap"``.

    Unknown names raise UnknownNameError (checked first, so a name can be validated on its own);
    bad severities, images, generators or options raise InvalidValueError. Deterministic given the
    generator's state; the global RNG is never used.
    """
    fn = CORRUPTIONS.get(name)
    severity = check_severity(severity)
    accepted = [option for option in corruption_options(fn) if option != "quantize"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise InvalidValueError(f"corruption {name!r} has no option {', '.join(unknown)}; "
                                f"its options: {', '.join(accepted) or 'none'}")
    if not isinstance(quantize, bool):
        raise InvalidValueError(f"corrupt() needs quantize=True or False, got {quantize!r}")
    images = check_images(images)
    if not isinstance(generator, torch.Generator):
        raise InvalidValueError(f"corrupt() needs an explicit torch.Generator (robnas.rng.make_generator(seed)), "
                                f"got {type(generator).__name__}")
    if images.shape[0] == 0:
        return images.clone()
    if "quantize" in corruption_options(fn):
        options["quantize"] = quantize
    # Half precision is too coarse for the JPEG/DCT and fixed-point steps: compute in float32 then.
    work = images if images.dtype in (torch.float32, torch.float64) else images.to(torch.float32)
    if quantize:
        work = on_levels(work)
    out = fn(work, severity, generator, **options).clamp(0.0, 1.0)
    if quantize:
        out = truncate_to_levels(out)
    return out.to(images.dtype)
