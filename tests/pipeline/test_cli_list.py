"""`robnas list KIND` prints every registry's names, and unknown names point at the right listing."""

from __future__ import annotations

import pytest

from robnas.cli import LISTINGS, main
from robnas.errors import UnknownNameError


@pytest.mark.parametrize("kind, expected", [
    ("models", "darts_v2"), ("attacks", "autoattack"), ("datasets", "digits"), ("corruptions", "frost"),
    ("protocols", "jung"),
    ("spaces", "macro"), ("strategies", "bananas"), ("objectives", "advset_error"),
])
def test_list_prints_registered_names(capsys, kind, expected):
    assert main(["list", kind]) == 0
    names = capsys.readouterr().out.split()
    assert expected in names
    if kind != "corruptions":  # corruptions keep the benchmark's order
        assert names == sorted(names)
    assert kind in LISTINGS


def test_list_pattern_filters(capsys):
    assert main(["list", "strategies", "r*"]) == 0
    assert capsys.readouterr().out.split() == ["re", "rs"]


def test_unknown_strategy_and_space_name_the_listing_command():
    from robnas.search.discrete.strategy import create_strategy
    from robnas.spaces import get_space

    with pytest.raises(UnknownNameError, match="robnas list strategies"):
        create_strategy("hill-climbing", get_space("nb201"), ["clean_error"], 0)
    with pytest.raises(UnknownNameError, match="robnas list spaces"):
        get_space("nasbench101")
