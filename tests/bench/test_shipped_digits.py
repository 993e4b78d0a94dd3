"""The benchmark robnas ships: digits-nb201, every unique NAS-Bench-201 cell trained on 8x8 digits and
evaluated under the jung-digits protocol. These tests open the real shipped file (not a sample) by
name, the way a user does, and check that it is whole and that its figures carry signal."""

from __future__ import annotations

import numpy as np
import pytest

import robnas.bench
from robnas.bench import shipped

UNIQUE_NB201_CELLS = 6466  # Jung et al. / NAS-Bench-201: 15 625 cells, 6 466 unique up to isomorphism
ALL_NB201_IDS = 15625
# NAS-Bench-201 id 9930 (0-based): the cell in the `bench show` example of README.md and docs/benchmarks.md.
EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    if "digits-nb201" not in shipped.shipped_names():
        pytest.fail("digits-nb201 is not shipped in robnas/bench/data (run tools/finish_digits_nb201.sh)")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))  # decompress and verify afresh
        with robnas.bench.open("digits-nb201") as bench:
            yield bench


def test_every_unique_cell_is_there_and_done(digits):
    assert len(digits) == UNIQUE_NB201_CELLS and digits.space == "nb201" and digits.dataset == "digits"
    assert (digits.status() == "done").all()
    ids = digits.ids()
    assert len(set(ids.tolist())) == UNIQUE_NB201_CELLS and ids.min() >= 0 and ids.max() < ALL_NB201_IDS
    record = shipped.shipped_record("digits-nb201")
    assert record["architectures"] == UNIQUE_NB201_CELLS and "bench build" in record["command"]


def test_every_one_of_the_15625_ids_finds_its_representative(digits):
    positions = {digits.lookup(i) for i in range(ALL_NB201_IDS)}
    assert positions == set(range(UNIQUE_NB201_CELLS))  # every id lands, and every representative is reached


def test_clean_and_robust_accuracy_spread_like_a_benchmark_should(digits):
    clean = digits.query("clean").ravel()
    assert not np.isnan(clean).any()
    # Degenerate cells (no path from input to output) sit at chance; good ones near the top.
    assert clean.min() < 0.2 and clean.max() > 0.9 and np.percentile(clean, 90) - np.percentile(clean, 10) > 0.15
    pgd = digits.query("pgd@Linf")
    assert pgd.shape == (UNIQUE_NB201_CELLS, len(digits.axis("pgd@Linf")))
    # Robust accuracy falls with the radius, and the largest radius breaks most cells.
    assert (np.nanmedian(pgd, axis=0)[1:] <= np.nanmedian(pgd, axis=0)[:-1] + 1e-9).all()
    assert np.nanmedian(pgd[:, -1]) < 0.5
    assert (pgd <= clean[:, None] + 1e-9).mean() > 0.99  # an attack rarely helps
    fgsm, apgd = digits.query("fgsm@Linf", eps="8/255"), digits.query("aa_apgd-ce@Linf", eps="8/255")
    assert np.nanmean(apgd) <= np.nanmean(fgsm)  # the stronger attack finds more


def test_corruptions_and_proxies_are_measured_for_every_cell(digits):
    assert len(digits.result_keys("corruption")) == 15
    assert not np.isnan(digits.corruption_mean()).any()
    for proxy in ("jacobian", "hessian", "synflow", "params", "flops"):
        for when in ("init", "trained"):
            values = digits.query(f"proxy:{proxy}@{when}", "value").ravel()
            assert np.isfinite(values).mean() > 0.99, (proxy, when)


def test_one_cell_reads_back_with_its_ids_and_costs(digits):
    record = digits.record(EXAMPLE)
    assert record["status"] == "done" and record["params"] == 79634
    assert digits.lookup(9930) == digits.lookup(EXAMPLE)
    assert set(record["measures"]) >= {"clean", "pgd@Linf", "aa_square@Linf", "fog"}
