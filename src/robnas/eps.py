"""An exact attack radius: ``Eps`` holds a :class:`fractions.Fraction` of the pixel range [0, 1].

Radii are written by people as ``8/255``, ``0.5/255`` or ``0.031`` and computed by programs as
floats (``8 / 255``). ``Eps.parse`` reads every one of these spellings into the same exact value,
so an epsilon is parsed once (command line, config file, JSON) and is a dictionary key everywhere
in memory: ``Eps.parse("8/255") == Eps.parse(8 / 255)``, and the two hash alike.

* ``float(eps)`` is the nearest double, what attacks compute with;
* ``eps.label`` is the spelling written for people and into JSON keys: ``"8/255"`` and ``"0.5/255"``
  for multiples of 1/2550 (the robustness dataset's radii), else the exact decimal (``"0.031"``),
  else ``"p/q"``; ``Eps.parse(eps.label) == eps`` always;
* ``eps.in_255`` is the radius in 1/255 units as a float (the robustness dataset's unit).

A float, or a decimal string, snaps to the nearest fraction whose denominator is at most 255,000
when it lies within 1e-12 of it (8/255 computed in floating point, or printed as 0.0313725490196, is
then exactly 8/255); any other float is read as its shortest decimal spelling (``repr``), which
converts back to the same float. ``"p/q"`` spellings are exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from numbers import Integral, Real

from robnas.errors import InvalidValueError

# Floats within _SNAP of a fraction with a denominator <= _DENOMINATOR are that fraction.
_DENOMINATOR = 255 * 1000
_SNAP = 1e-12
_HOW = "write it like 8/255, 0.5/255 or 0.031"


def _decimal(value: Fraction) -> str | None:
    """The exact decimal spelling of ``value`` ("0.031", "5.1", "8"), or None when it has none."""
    den, twos, fives = value.denominator, 0, 0
    while den % 2 == 0:
        den, twos = den // 2, twos + 1
    while den % 5 == 0:
        den, fives = den // 5, fives + 1
    if den != 1:
        return None
    places = max(twos, fives)
    scaled = abs(value.numerator) * 10**places // value.denominator
    digits = str(scaled).rjust(places + 1, "0")
    text = digits if places == 0 else f"{digits[:-places]}.{digits[-places:]}"
    return ("-" if value < 0 else "") + text


def _snap(value: Fraction) -> Fraction | None:
    """The fraction with a small denominator within _SNAP of ``value``, if there is one."""
    near = value.limit_denominator(_DENOMINATOR)
    return near if abs(near - value) <= _SNAP else None


def _from_float(x: float) -> Fraction:
    near = _snap(Fraction(x))
    return Fraction(repr(x)) if near is None else near


def read_fraction(text: str) -> Fraction:
    """``"8/255"``, ``"0.5/255"``, ``"0.031"`` -> the exact Fraction; ValueError or ZeroDivisionError otherwise.

    Fraction reads "8/255" and "0.031" but not a decimal numerator over a denominator ("0.5/255").
    """
    parts = text.strip().split("/")
    if len(parts) > 2 or not all(p.strip() for p in parts):
        raise ValueError(text)
    value = Fraction(parts[0].strip())
    return value / Fraction(parts[1].strip()) if len(parts) == 2 else value


@dataclass(frozen=True, order=True)
class Eps:
    """A radius >= 0 as an exact fraction of the pixel range; ordered, hashable, a dictionary key."""

    value: Fraction

    def __post_init__(self) -> None:
        if not isinstance(self.value, Fraction):
            raise TypeError(f"Eps holds a Fraction, got {self.value!r}; use Eps.parse for other values")
        if self.value < 0:
            raise InvalidValueError(f"epsilon must be >= 0, got {self.label}; {_HOW}")

    @classmethod
    def parse(cls, value: object) -> Eps:
        """``"8/255"``, ``"0.5/255"``, ``"0.031"``, an int, a float or an Eps -> Eps (never evaluated as code)."""
        if isinstance(value, Eps):
            return value
        if isinstance(value, bool):
            raise InvalidValueError(f"epsilon must be a number, got {value!r}; {_HOW}")
        try:
            if isinstance(value, Fraction):
                exact = value
            elif isinstance(value, Integral):
                exact = Fraction(int(value))
            elif isinstance(value, Real):
                number = float(value)
                if not math.isfinite(number):
                    raise ValueError(value)
                exact = _from_float(number)
            elif isinstance(value, str):
                exact = read_fraction(value)
                near = _snap(exact)
                if "/" not in value and near is not None:  # a decimal is a printed float: "0.0313725490196" is 8/255
                    exact = near
            else:
                raise ValueError(value)
        except (ValueError, ZeroDivisionError, OverflowError):
            raise InvalidValueError(f"cannot read epsilon {value!r}; {_HOW}") from None
        if exact < 0:
            raise InvalidValueError(f"epsilon must be >= 0, got {value!r}; {_HOW}")
        return cls(exact)

    @classmethod
    def from_255(cls, value: object) -> Eps:
        """A radius written in 1/255 units (the robustness dataset's ``epsilons``): ``from_255(8) == 8/255``."""
        return cls(cls.parse(value).value / 255)

    def __float__(self) -> float:
        return float(self.value)

    @property
    def in_255(self) -> float:
        """The radius in 1/255 units (8/255 -> 8.0)."""
        return float(self.value * 255)

    @property
    def label(self) -> str:
        """How the radius is written for people and in JSON keys; ``Eps.parse(label)`` gives it back."""
        in_255 = self.value * 255
        if (in_255 * 10).denominator == 1:
            return f"{_decimal(in_255)}/255"
        decimal = _decimal(self.value)
        if decimal is not None and Eps.parse(decimal) == self:  # a long decimal might snap to another value
            return decimal
        return f"{self.value.numerator}/{self.value.denominator}"

    def __str__(self) -> str:
        return self.label

    def __repr__(self) -> str:
        return f"Eps({self.label!r})"

    def __format__(self, spec: str) -> str:
        """``f"{eps}"`` is the label; a numeric format (``f"{eps:.4g}"``) formats the float."""
        return self.label if not spec else format(float(self), spec)
