"""Validation of model hyper-parameters, so bad values fail with one clear line."""

from __future__ import annotations

from typing import Any

from robnas.errors import InvalidValueError


def positive_int(model: str, name: str, value: Any) -> int:
    """``value`` if it is an integer >= 1, else an error naming the model and the kwarg."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(f"model {model!r}: {name} must be a positive integer, got {value!r}")
    return value


def positive_float(model: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidValueError(f"model {model!r}: {name} must be a positive number, got {value!r}")
    return float(value)


def probability(model: str, name: str, value: Any) -> float:
    """A probability in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise InvalidValueError(f"model {model!r}: {name} must be in [0, 1), got {value!r}")
    return float(value)


def flag(model: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidValueError(f"model {model!r}: {name} must be true or false, got {value!r}")
    return value
