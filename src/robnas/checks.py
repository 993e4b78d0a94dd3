"""Validation rules shared by every layer, so a value is judged the same wherever it is given.

A rule returns the normalised value or raises one :class:`InvalidValueError` line naming whose value
it is (``owner``, e.g. ``"model 'resnet18'"``), which value, and what it must be -- the fix, in the
words of the message. Rules that only one family needs (an attack's radius, a proxy's inputs) stay
with that family.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

from robnas.errors import InvalidValueError


def positive_int(owner: str, name: str, value: object) -> int:
    """A count (steps, layers, a width, a batch size): an integer >= 1 (numpy integers too, never a bool).

    ``positive_int("attack 'pgd'", "steps", 0)`` raises "attack 'pgd': steps must be an integer >= 1, got 0".
    """
    if isinstance(value, bool) or not isinstance(value, Integral) or int(value) < 1:
        raise InvalidValueError(f"{owner}: {name} must be an integer >= 1, got {value!r}")
    return int(value)


def positive_float(owner: str, name: str, value: object) -> float:
    """A finite number > 0 (a width multiplier)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or not value > 0:
        raise InvalidValueError(f"{owner}: {name} must be a positive number, got {value!r}")
    return float(value)


def probability(owner: str, name: str, value: object) -> float:
    """A probability in [0, 1) (a dropout or drop-path rate: 1 would drop everything)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= value < 1.0:
        raise InvalidValueError(f"{owner}: {name} must be in [0, 1), got {value!r}")
    return float(value)


def flag(owner: str, name: str, value: object) -> bool:
    """True or false, never a number standing in for one."""
    if not isinstance(value, bool):
        raise InvalidValueError(f"{owner}: {name} must be true or false, got {value!r}")
    return value
