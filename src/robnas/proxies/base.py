"""The proxy registry and the contract every proxy keeps: ``compute(name, model, x, y, **params)``.

A proxy is a frozen dataclass whose fields are its parameters (defaults written once, next to its
code); the registry stamps its ``name``. Every proxy declares ``higher_is``, the meaning of a larger
value, so a rank-correlation study can orient signs without a table of its own:

* ``"less robust"``   -- robustness proxies (Jacobian norm, Hessian eigenvalues, input curvature);
* ``"more accurate"`` -- clean zero-cost proxies (synflow, jacob_cov, grad_norm);
* ``"larger network"`` -- cost counters (params, flops).

The contract (checked by the tests for every registered proxy): the model is put in eval mode and
every module's own mode is restored afterwards; inputs are images in [0, 1] and the model returns
logits; points are processed ``batch_size`` at a time and the value does not depend on the split
(eval mode makes every point's forward independent of the others); randomness comes from
``seed`` through an explicit generator, never the global RNG; the model's weights, their ``.grad``
and the caller's grad mode are left as they were; it runs on the inputs' device. A value that is
undefined for a network (e.g. ``jacob_cov`` when an output ignores its input) is returned as NaN,
never raised: a study over thousands of architectures reports it per architecture.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from robnas.attacks.base import eval_mode
from robnas.checks import positive_int
from robnas.errors import InvalidValueError
from robnas.registry import Registry

HigherIs = Literal["less robust", "more accurate", "larger network"]
DIRECTIONS: tuple[str, ...] = ("less robust", "more accurate", "larger network")


@dataclass(frozen=True, kw_only=True)
class Proxy(ABC):
    """A training-free measurement of a model on points ``x`` (labels ``y`` where it needs them)."""

    name: ClassVar[str]
    higher_is: ClassVar[HigherIs]
    needs_labels: ClassVar[bool] = True

    batch_size: int = 128  # points per forward/backward; a memory knob, the value does not depend on it
    seed: int = 0          # seeds the proxy's own generator (ignored by deterministic proxies)

    def __post_init__(self) -> None:
        positive_int(f"proxy {self.name!r}", "batch_size", self.batch_size)
        whole_number(self, "seed")

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        check_inputs(self, x, y)
        with eval_mode(model), torch.enable_grad():
            return float(self.measure(model, x.detach(), None if y is None else y.detach().to(x.device)))

    @abstractmethod
    def measure(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
        """The value on an eval-mode ``model`` (gradients enabled, inputs checked)."""

    def batches(self, n: int) -> Iterator[slice]:
        """Consecutive slices of at most ``batch_size`` points covering ``range(n)``."""
        for start in range(0, n, self.batch_size):
            yield slice(start, min(start + self.batch_size, n))


PROXIES: Registry[type[Proxy]] = Registry("proxy", "proxies")


def register_proxy(name: str) -> Callable[[type[Proxy]], type[Proxy]]:
    """Class decorator: make a :class:`Proxy` dataclass available to :func:`compute` as ``name``."""
    registrar = PROXIES.register(name)

    def register(cls: type[Proxy]) -> type[Proxy]:
        if getattr(cls, "higher_is", None) not in DIRECTIONS:
            raise ValueError(f"proxy {name!r} must declare higher_is, one of {', '.join(DIRECTIONS)}")
        return registrar(cls)

    return register


def get_proxy(name: str) -> type[Proxy]:
    """The registered proxy class (``.higher_is``, ``.needs_labels``); unknown names raise UnknownNameError."""
    return PROXIES.get(name)


def list_proxies(pattern: str = "*") -> list[str]:
    """Registered proxy names matching a shell-style pattern, sorted."""
    return PROXIES.names(pattern)


def proxy_parameters(name: str) -> dict[str, Any]:
    """The keyword parameters ``compute(name, ...)`` accepts, with their defaults."""
    return {f.name: f.default for f in dataclasses.fields(get_proxy(name))}


def compute(name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, **params: Any) -> float:
    """The proxy ``name`` of ``model`` on images ``x`` in [0, 1] (labels ``y`` where needed), as a float.

    Unknown names raise UnknownNameError, unknown or bad parameters InvalidValueError (one line each).
    A NaN is returned, not raised, when the proxy is undefined for this network.
    """
    cls = get_proxy(name)
    valid = proxy_parameters(name)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise InvalidValueError(f"proxy {cls.name!r} takes no parameter {', '.join(unknown)}; "
                                f"valid parameters: {', '.join(valid)}")
    return cls(**params)(model, x, y)


def check_inputs(proxy: Proxy, x: torch.Tensor, y: torch.Tensor | None) -> None:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() < 2 or len(x) == 0:
        raise InvalidValueError(f"proxy {proxy.name!r} needs a float tensor of images [N, ...] with N >= 1, "
                                f"got {type(x).__name__} {tuple(getattr(x, 'shape', ()))}")
    low, high = x.min().item(), x.max().item()
    if not (0.0 <= low and high <= 1.0):
        raise InvalidValueError(f"proxy {proxy.name!r} needs images in [0, 1] (the model normalises them), "
                                f"got values in [{low:g}, {high:g}]")
    if y is None:
        if proxy.needs_labels:
            raise InvalidValueError(f"proxy {proxy.name!r} needs labels y (the loss is a cross-entropy)")
        return
    if not isinstance(y, torch.Tensor) or y.dim() != 1 or len(y) != len(x) or y.is_floating_point():
        raise InvalidValueError(f"proxy {proxy.name!r} needs integer labels y of shape [{len(x)}], "
                                f"got {type(y).__name__} {tuple(getattr(y, 'shape', ()))}")


# Parameter checks shared by the proxies' __post_init__ (one line each, naming the proxy).

def whole_number(proxy: Proxy, field: str, minimum: int | None = None) -> None:
    value = getattr(proxy, field)
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        raise InvalidValueError(f"proxy {proxy.name!r}: {field} must be a whole number{bound}, got {value!r}")


def positive_float(proxy: Proxy, field: str, allow_zero: bool = False) -> None:
    value = getattr(proxy, field)
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
          and (value >= 0 if allow_zero else value > 0))
    if not ok:
        raise InvalidValueError(f"proxy {proxy.name!r}: {field} must be a finite number "
                                f"{'>= 0' if allow_zero else '> 0'}, got {value!r}")
