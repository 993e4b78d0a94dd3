"""Parsing of user-written numbers such as ``8/255`` (epsilons are in pixel units in [0, 1])."""

from __future__ import annotations

from fractions import Fraction

from robnas.errors import InvalidValueError


def parse_eps(text: str | float | int) -> float:
    """``"8/255"``, ``"0.031"`` or a number -> float; negative or non-numeric values are refused.

    Fractions are parsed with :class:`fractions.Fraction`, never evaluated as code.
    """
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        try:
            # "0.5/255": Fraction reads decimals but not a decimal numerator over a denominator.
            num, slash, den = text.strip().partition("/")
            value = float(Fraction(num.strip()) / Fraction(den.strip() if slash else "1"))
        except (ValueError, ZeroDivisionError) as exc:
            raise InvalidValueError(f"cannot read epsilon {text!r}; write it like 8/255 or 0.031") from exc
    if value < 0 or value != value:
        raise InvalidValueError(f"epsilon must be >= 0, got {text!r}; write it like 8/255")
    return value


def parse_eps_list(text: str | list[str | float]) -> list[float]:
    """``"2/255,8/255"`` or a list -> list of floats."""
    items = text.split(",") if isinstance(text, str) else list(text)
    values = [parse_eps(item) for item in items if not (isinstance(item, str) and not item.strip())]
    if not values:
        raise InvalidValueError("empty epsilon list; write e.g. --eps 8/255 or --eps 2/255,8/255")
    return values
