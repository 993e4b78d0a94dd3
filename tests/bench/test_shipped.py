"""Shipped benchmarks: compressed with a build record, opened by name, checked against their SHA-256."""

from __future__ import annotations

import json

import numpy as np
import pytest

import robnas.bench
from robnas.bench import shipped
from robnas.errors import DataError, UnknownNameError


@pytest.fixture()
def package_data(tmp_path, monkeypatch):
    """An empty package data directory and user cache, so the test ships into neither of the real ones."""
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setattr(shipped, "DATA", data)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return data


def test_a_shipped_benchmark_opens_by_name_with_every_value(package_data, sample_bench):
    packed = shipped.ship(sample_bench, "tiny", {"command": "robnas bench build ..."}, directory=package_data)
    record = json.loads((package_data / "tiny.build.json").read_text())
    assert packed.name == "tiny.sqlite.xz" and record["command"] == "robnas bench build ..."
    assert record["bytes"] == sample_bench.stat().st_size and len(record["sha256"]) == 64
    assert shipped.shipped_names() == ["tiny"]
    with robnas.bench.open("tiny") as by_name, robnas.bench.open(sample_bench) as by_path:
        assert by_name.archs() == by_path.archs()
        np.testing.assert_array_equal(by_name.query("pgd@Linf", "accuracy"), by_path.query("pgd@Linf", "accuracy"))
    with pytest.raises(UnknownNameError, match="shipped: tiny"):
        robnas.bench.open("nothing-of-that-name")


def test_a_shipped_file_that_does_not_match_its_record_is_refused_and_not_cached(package_data, sample_bench):
    shipped.ship(sample_bench, "tiny", {}, directory=package_data)
    record_file = package_data / "tiny.build.json"
    record = json.loads(record_file.read_text())
    record_file.write_text(json.dumps({**record, "sha256": "0" * 64}))
    with pytest.raises(DataError, match="shipped benchmark tiny does not match its build record's SHA-256; "
                                        "reinstall robnas"):
        robnas.bench.open("tiny")
    assert not list(shipped.cache_dir().glob("tiny-*"))  # nothing half-written in the cache
