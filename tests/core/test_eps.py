"""Eps: one exact radius for every spelling, a dictionary key, a label that parses back to it."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from robnas.eps import Eps
from robnas.errors import InvalidValueError


def test_every_spelling_of_a_radius_is_one_key():
    eight = Eps.parse("8/255")
    assert eight == Eps.parse(8 / 255) == Eps.parse(" 8 / 255 ") == Eps.parse(Fraction(8, 255)) == Eps.parse(eight)
    assert eight == Eps.parse("0.0313725490196")  # a printed float snaps like the float
    assert hash(eight) == hash(Eps.parse(8 / 255)) and {eight: 1}[Eps.parse(8 / 255)] == 1
    assert eight.value == Fraction(8, 255) and float(eight) == 8 / 255 and eight.in_255 == 8.0
    assert Eps.parse("0.5/255") == Eps.parse(0.5 / 255) == Eps.from_255(0.5)  # the robustness dataset's radii
    assert Eps.parse("0.1/255") == Eps.parse(0.1 / 255) == Eps.from_255(0.1)
    assert Eps.parse("0.031").value == Fraction(31, 1000) and float(Eps.parse("0.031")) == 0.031
    assert Eps.parse(1) == Eps.parse("255/255") == Eps.from_255(255)


def test_labels():
    assert [Eps.parse(v).label for v in ("8/255", 0.5 / 255, 0.1 / 255, 1.0, 0, "0.031", "1/7", 1e-3)] == [
        "8/255", "0.5/255", "0.1/255", "255/255", "0/255", "0.031", "1/7", "0.001"]
    assert str(Eps.parse("8/255")) == "8/255" and f"{Eps.parse('8/255')}" == "8/255"
    assert f"{Eps.parse('8/255'):.4g}" == "0.03137" and repr(Eps.parse("8/255")) == "Eps('8/255')"


def test_ordered():
    radii = [Eps.parse(v) for v in ("8/255", "0.5/255", 0, "0.031")]
    assert [e.label for e in sorted(radii)] == ["0/255", "0.5/255", "0.031", "8/255"]
    assert Eps.parse("0.031") < Eps.parse("8/255")


@pytest.mark.parametrize("bad", ["-1/255", "abc", "1/0", "8/", "/255", "8//255", "1/2/3", "", "nan", "inf",
                                 "__import__('os')", -0.1, math.nan, math.inf, True, None, [8]])
def test_bad_values_are_one_line_errors_naming_the_fix(bad):
    with pytest.raises(InvalidValueError, match="write it like 8/255") as info:
        Eps.parse(bad)
    assert "\n" not in str(info.value)


def test_negative_fraction_refused_on_construction():
    with pytest.raises(InvalidValueError):
        Eps(Fraction(-1, 255))
    with pytest.raises(TypeError):
        Eps(0.1)  # type: ignore[arg-type]


@given(st.fractions(min_value=0, max_value=10))
def test_label_parses_back_exactly(value):
    eps = Eps(value)
    assert Eps.parse(eps.label) == eps
    assert Eps(Fraction(1, 2**40)).label == "1/1099511627776"  # its decimal would snap to 0


@given(st.floats(min_value=0, max_value=100, allow_nan=False, allow_infinity=False))
def test_floats_round_trip(x):
    eps = Eps.parse(x)
    assert abs(float(eps) - x) <= 1e-12
    assert Eps.parse(eps.label) == eps


@given(st.integers(0, 2550))
def test_tenths_of_255_are_exact_whichever_way_they_are_written(tenths):
    eps = Eps(Fraction(tenths, 2550))
    assert Eps.parse(tenths / 10 / 255) == eps == Eps.parse(eps.label) == Eps.from_255(tenths / 10)
