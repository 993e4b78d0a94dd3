"""Design analysis on a hand-made benchmark: every number of the report checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

import robnas.bench
from robnas.bench import design as lib
from robnas.bench import measurements as m
from robnas.bench.store import ArchResult, BenchmarkFile
from robnas.spaces.nb201 import unique_key

C3, C1, AP, SK, NO = "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "skip_connect", "none"
# (edge ops, params, fgsm accuracy, pgd accuracy): two parameter groups of 3 and 3 architectures
ARCHS = [
    ((C3, SK, C3, AP, SK, AP), 200, 0.50, 0.30),   # group 200: mean adversarial 0.40
    ((C3, AP, SK, SK, C3, AP), 200, 0.30, 0.10),   #            0.20
    ((AP, C3, AP, C3, SK, SK), 200, 0.40, 0.20),   #            0.30
    ((C1, SK, AP, AP, SK, AP), 100, 0.20, 0.00),   # group 100: 0.10
    ((AP, C1, SK, SK, AP, SK), 100, 0.60, 0.40),   #            0.50
    ((SK, AP, C1, AP, AP, AP), 100, 0.35, 0.25),   #            0.30
]


def _arch(ops):
    return f"|{ops[0]}~0|+|{ops[1]}~0|{ops[2]}~1|+|{ops[3]}~0|{ops[4]}~1|{ops[5]}~2|"


@pytest.fixture
def hand_made(tmp_path):
    path = tmp_path / "hand.sqlite"
    with BenchmarkFile(path, readonly=False) as bench:
        bench.set_meta({"space": "nb201", "dataset": "digits", "axes": {
            "clean": {"kind": "clean", "axis": []},
            "fgsm@Linf": {"kind": "attack", "axis": ["1/255"], "norm": "Linf"},
            "pgd@Linf": {"kind": "attack", "axis": ["1/255"], "norm": "Linf"}}})
        bench.add_many(ArchResult(unique_key(_arch(ops)), _arch(ops), params=params, measures={
            ("clean", "accuracy"): 0.9, ("fgsm@Linf", "accuracy"): [fgsm], ("pgd@Linf", "accuracy"): [pgd]})
            for ops, params, fgsm, pgd in ARCHS)
    with robnas.bench.open(path) as bench:
        yield bench


def test_groups_spread_and_best_per_group(hand_made):
    score = m.mean_adversarial(hand_made)
    np.testing.assert_allclose(score.values, [0.4, 0.2, 0.3, 0.1, 0.5, 0.3])
    groups = lib.parameter_groups(hand_made)
    assert groups.how == "params" and groups.labels == ["100", "200"]
    small, large = lib.spread(groups, score.values, hand_made.archs())
    assert small["architectures"] == 3 and small["min"] == pytest.approx(10.0) and small["max"] == pytest.approx(50.0)
    assert small["median"] == pytest.approx(30.0) and small["iqr"] == pytest.approx(20.0)  # Q1 20, Q3 40
    assert small["best_arch"] == _arch(ARCHS[4][0]) and small["best"] == pytest.approx(50.0)
    assert large["range"] == pytest.approx(20.0) and large["best_arch"] == _arch(ARCHS[0][0])


def test_operation_frequencies_of_top_and_bottom(hand_made):
    score = m.mean_adversarial(hand_made).values
    freq = lib.op_frequencies(hand_made, score, decile=50)       # top 3: archs 4, 0, 2; bottom 3: 5, 1, 3 ...
    assert freq["size"] == 3 and freq["genes"][0] == "edge 1 (0->1)" and freq["values"][3] == C3
    # edge 1 of the top three: AP, C3, AP -> avg_pool 2/3, conv3x3 1/3; of the bottom three (1, 5, 3 by
    # descending score, i.e. scores 0.3 (arch 5), 0.2, 0.1): SK, C3, C1
    top, bottom = freq["top"][0], freq["bottom"][0]
    assert top[4] == pytest.approx(200 / 3) and top[3] == pytest.approx(100 / 3)
    assert bottom[1] == pytest.approx(100 / 3) and bottom[3] == pytest.approx(100 / 3) and bottom[2] == pytest.approx(100 / 3)
    with pytest.raises(Exception, match="decile"):
        lib.op_frequencies(hand_made, score, decile=0)


def test_conv_count_groups_without_params(tmp_path):
    path = tmp_path / "noparams.sqlite"
    with BenchmarkFile(path, readonly=False) as bench:
        bench.set_meta({"space": "nb201", "dataset": "digits", "axes": {"clean": {"kind": "clean", "axis": []}}})
        bench.add_many(ArchResult(unique_key(_arch(ops)), _arch(ops), measures={("clean", "accuracy"): 0.5})
                       for ops, *_ in ARCHS)
    with robnas.bench.open(path) as bench:
        groups = lib.parameter_groups(bench)
    assert groups.how == "conv counts" and groups.labels == ["3x3 x0, 1x1 x1", "3x3 x2, 1x1 x0"]
    assert [g.tolist() for g in groups.members] == [[3, 4, 5], [0, 1, 2]]
