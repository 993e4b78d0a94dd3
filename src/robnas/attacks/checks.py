"""Validation of attack parameters and inputs: every problem is a one-line InvalidValueError naming the fix."""

from __future__ import annotations

import math
from numbers import Integral, Real

import torch

from robnas.checks import positive_int
from robnas.eps import Eps
from robnas.errors import InvalidValueError


def check_eps(attack: str, eps: object) -> float:
    """A finite radius >= 0 (eps 0 is allowed: it is the clean point); an :class:`Eps` becomes its float."""
    if isinstance(eps, Eps):
        return float(eps)
    if isinstance(eps, bool) or not isinstance(eps, Real) or not math.isfinite(float(eps)) or float(eps) < 0:
        raise InvalidValueError(f"attack {attack!r}: eps must be a finite number >= 0 such as 8/255, got {eps!r}")
    return float(eps)


def check_radius_or_inf(attack: str, eps: object) -> float:
    """A radius >= 0 that may be +inf: minimum-norm attacks (C&W, DeepFool) are unbounded by default."""
    if isinstance(eps, Eps):
        return float(eps)
    if isinstance(eps, bool) or not isinstance(eps, Real) or math.isnan(float(eps)) or float(eps) < 0:
        raise InvalidValueError(f"attack {attack!r}: eps must be a number >= 0 such as 0.5, or float('inf') for "
                                f"an unbounded minimum-norm attack, got {eps!r}")
    return float(eps)


def check_norm(attack: str, norm: object, supported: tuple[str, ...]) -> str:
    if norm not in supported:
        raise InvalidValueError(f"attack {attack!r} supports norm {' or '.join(supported)}, got {norm!r}; "
                                f"use one of those")
    return str(norm)


def check_step(attack: str, name: str, value: object) -> float:
    """A step size: finite and > 0 (an :class:`Eps`, such as train.adversarial.alpha, becomes its float)."""
    if isinstance(value, Eps):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)) or float(value) <= 0:
        raise InvalidValueError(f"attack {attack!r}: {name} (step size) must be a number > 0 such as 2/255, "
                                f"got {value!r}")
    return float(value)


def check_positive(attack: str, name: str, value: object) -> float:
    """A finite number > 0 that is not a step size (a loss weight such as C&W's c, a learning rate)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)) or float(value) <= 0:
        raise InvalidValueError(f"attack {attack!r}: {name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_non_negative(attack: str, name: str, value: object) -> float:
    """A finite number >= 0 (a confidence margin, an overshoot, a momentum decay)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)) or float(value) < 0:
        raise InvalidValueError(f"attack {attack!r}: {name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_fraction(attack: str, name: str, value: object, include_one: bool = False) -> float:
    """A number in (0, 1) (or (0, 1] with ``include_one``)."""
    ok = (not isinstance(value, bool) and isinstance(value, Real)
          and 0 < float(value) and (float(value) <= 1 if include_one else float(value) < 1))
    if not ok:
        bound = "(0, 1]" if include_one else "(0, 1)"
        raise InvalidValueError(f"attack {attack!r}: {name} must be a number in {bound}, got {value!r}")
    return float(value)


def check_pixel_budget(attack: str, eps: object) -> int:
    """L0 attacks: ``eps`` is a number of pixels, a whole number >= 0 (an integral float such as 3.0 is accepted).

    0 is the clean point, as eps 0 is for the other norms (the base class then attacks nothing).
    """
    whole = (not isinstance(eps, bool) and isinstance(eps, Real) and math.isfinite(float(eps))
             and float(eps).is_integer() and float(eps) >= 0)
    if not whole:
        raise InvalidValueError(f"attack {attack!r} is an L0 attack: eps is its pixel budget and must be a whole "
                                f"number of pixels >= 0 such as 1, 3 or 10, got {eps!r}")
    return int(eps)


def check_int_at_least(attack: str, name: str, value: object, minimum: int, why: str) -> int:
    """An integer >= ``minimum``; ``why`` says what needs that many (it ends the message)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or int(value) < minimum:
        raise InvalidValueError(f"attack {attack!r}: {name} must be an integer >= {minimum} ({why}), got {value!r}")
    return int(value)


def check_number_in(attack: str, name: str, value: object, low: float, high: float) -> float:
    """A number in ``(low, high]``."""
    if isinstance(value, bool) or not isinstance(value, Real) or not low < float(value) <= high:
        raise InvalidValueError(f"attack {attack!r}: {name} must be a number in ({low:g}, {high:g}], got {value!r}")
    return float(value)


def check_seed(attack: str, seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, Integral) or int(seed) < 0:
        raise InvalidValueError(f"attack {attack!r}: seed must be an integer >= 0, got {seed!r}")
    return int(seed)


def check_batch_size(attack: str, batch_size: object) -> int | None:
    if batch_size is None:
        return None
    return positive_int(f"attack {attack!r}", "batch_size", batch_size)


def check_inputs(attack: str, x: object, y: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Images: a float tensor ``[N, ...]`` with values in [0, 1]; labels: integers of shape ``[N]``.

    Returns ``y`` as int64 on the images' device.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() < 2:
        raise InvalidValueError(f"attack {attack!r}: images must be a float tensor [N, ...] in [0, 1] "
                                f"(divide uint8 images by 255), got {_describe(x)}")
    if x.numel() and not (x.min().item() >= 0.0 and x.max().item() <= 1.0):
        raise InvalidValueError(f"attack {attack!r}: images must lie in [0, 1], got values in "
                                f"[{x.min().item():.4g}, {x.max().item():.4g}]; attack unnormalised images "
                                f"(normalisation belongs inside the model)")
    if (not isinstance(y, torch.Tensor) or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool
            or tuple(y.shape) != (x.shape[0],)):
        raise InvalidValueError(f"attack {attack!r}: labels must be an integer tensor of shape [{x.shape[0]}] "
                                f"(one class index per image), got {_describe(y)}")
    if y.numel() and y.min().item() < 0:
        raise InvalidValueError(f"attack {attack!r}: labels must be class indices >= 0, got {y.min().item()}")
    return x, y.to(device=x.device, dtype=torch.long)


def check_start(attack: str, x: torch.Tensor, x_init: object) -> torch.Tensor | None:
    """An injected starting point: same shape as the images, floating point."""
    if x_init is None:
        return None
    if not isinstance(x_init, torch.Tensor) or not x_init.is_floating_point() or x_init.shape != x.shape:
        raise InvalidValueError(f"attack {attack!r}: x_init must be a float tensor of the images' shape "
                                f"{tuple(x.shape)}, got {_describe(x_init)}")
    return x_init.detach().to(device=x.device, dtype=x.dtype)


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"{value.dtype} tensor of shape {tuple(value.shape)}"
    return type(value).__name__


def check_images(name: str, x: torch.Tensor) -> None:
    """Attacks that move pixels or squares need the spatial layout ``[N, C, H, W]``."""
    if x.dim() != 4:
        raise InvalidValueError(f"attack {name!r} needs images shaped [N, C, H, W], got {tuple(x.shape)}; "
                                f"reshape flat inputs to images")
