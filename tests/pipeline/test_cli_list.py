"""`robnas list KIND` prints every registry's names, and unknown names point at the right listing."""

from __future__ import annotations

import pytest

from robnas.cli import main
from robnas.registry import kinds
from robnas.errors import UnknownNameError


@pytest.mark.parametrize("kind, expected", [
    ("models", "darts_v2"), ("attacks", "autoattack"), ("datasets", "digits"), ("corruptions", "frost"),
    ("protocols", "jung"),
    ("spaces", "macro"), ("strategies", "bananas"), ("objectives", "advset_error"), ("methods", "advrush"),
    ("terms", "rnas"),
])
def test_list_prints_registered_names(capsys, kind, expected):
    assert main(["list", kind]) == 0
    names = capsys.readouterr().out.split()
    assert expected in names
    if kind != "corruptions":  # corruptions keep the benchmark's order
        assert names == sorted(names)
    assert kind in kinds()


@pytest.mark.parametrize("kind", kinds())
def test_every_kind_lists_something(capsys, kind):
    assert main(["list", kind]) == 0
    assert capsys.readouterr().out.split()


def test_list_kinds_and_unknown_kind(capsys):
    assert main(["list", "kinds"]) == 0
    assert "attacks" in capsys.readouterr().out.split()
    assert main(["list", "widgets"]) == 2
    assert "unknown kind" in capsys.readouterr().err


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


def test_bare_run_is_the_shipped_main_job_and_configs_resolve_by_name(tmp_path, monkeypatch):
    from robnas.cli import build_parser, resolve_config

    monkeypatch.chdir(tmp_path)  # from any directory, as after pip install
    cfg = resolve_config(build_parser().parse_args(["run"]))
    assert cfg.searched.enabled and cfg.search.method == "advrush"
    assert [m.label for m in cfg.models] == ["DARTS_V2", "ResNet-18"] and cfg.data.name == "digits"
    fashion = resolve_config(build_parser().parse_args(["run", "--config", "fashion_mnist"]))
    assert fashion.data.name == "fashion-mnist"


def test_a_reader_that_closes_the_pipe_early_gets_no_traceback():
    """`robnas list attacks | head -1` (and `bench show ... | head`): exit 141 as `cat` would, stderr empty."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "robnas.cli", "list", "attacks"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # before the child has imported anything, so its first write finds no reader
    assert proc.wait(timeout=60) == 141
    assert proc.stderr.read() == b""
