"""NAS-Bench-201's published CIFAR-10 accuracies as a benchmark (``bench reference``), and the rank agreement
of two benchmarks (``bench correlate A --against B``). The reference file is written here in the exact format
of the analog-nasbench wheel's data.anb (a pickle of its own record classes), never copied from it."""

from __future__ import annotations

import itertools
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

import robnas.bench
from robnas.bench.reference import NASLIB_OPS, arch_of_naslib, nb201_cifar10, write_reference
from robnas.errors import DataError
from robnas.spaces.nb201 import index_of, representative


def _fake_wheel(root: Path) -> None:
    """A package ``analognasbench.data`` with the wheel's two record classes, importable from ``root``."""
    package = root / "analognasbench"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "data.py").write_text(
        "class Architecture:\n    def __init__(self, **kw):\n        self.__dict__.update(kw)\n"
        "class DriftMeasurement:\n    def __init__(self, value, uncertainty):\n"
        "        self.value, self.uncertainty = value, uncertainty\n")


def accuracy_of(ops: tuple[int, ...]) -> float:
    """A made-up accuracy: 3x3 convolutions help, 'none' hurts (a smooth landscape), in [10, 95]."""
    return float(np.clip(60 + 6 * ops.count(2) + 3 * ops.count(3) - 8 * ops.count(1), 10, 95))


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    _fake_wheel(root)
    sys.path.insert(0, str(root))
    try:
        from analognasbench.data import Architecture, DriftMeasurement

        table = {ops: Architecture(architecture=ops, baseline_accuracy=accuracy_of(ops), ptq_accuracy=1.0,
                                   baseline_drift_60=DriftMeasurement(1.0, 0.1))
                 for ops in itertools.product(range(5), repeat=6)}
        path = root / "data.anb"
        path.write_bytes(pickle.dumps(table, protocol=4))
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.startswith("analognasbench")]:
            del sys.modules[name]
    return path


def test_naslib_keys_map_to_nb201_cells():
    all_conv = arch_of_naslib((2, 2, 2, 2, 2, 2))
    assert all_conv == "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    # NASLib's edge order is 0->1, 0->2, 0->3, 1->2, 1->3, 2->3: its fourth op is robnas' third edge (2<-1)
    resnet = arch_of_naslib((2, 2, 0, 2, 2, 2))
    assert resnet == "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    assert NASLIB_OPS[1] == "none"


def test_the_reference_reads_every_cell_without_importing_the_package(data_file):
    accuracy = nb201_cifar10(data_file)
    assert len(accuracy) == 15625 and "analognasbench" not in sys.modules
    assert accuracy[index_of(arch_of_naslib((2, 2, 0, 2, 2, 2)))] == accuracy_of((2, 2, 0, 2, 2, 2))


def test_write_reference_is_a_benchmark_with_class_members_as_replicates(data_file, tmp_path):
    out = write_reference(tmp_path / "ref.sqlite", data_file)
    accuracy = nb201_cifar10(data_file)
    with robnas.bench.open(out) as b:
        assert len(b) == 6466 and b.replicates == [0, 1, 2] and b.result_keys() == ["clean"]
        first = b.query("clean", replicate=0)
        assert np.allclose(first, [accuracy[i] / 100 for i in b.ids()])  # replicate 0: the representative
        assert all(representative(int(i)) == int(i) for i in b.ids()[:50])
    with pytest.raises(Exception, match="exists"):
        write_reference(out, data_file)


def test_bad_reference_files_are_one_line_and_write_nothing(data_file, tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    cases = {"evil": pickle.dumps(Evil()), "truncated": data_file.read_bytes()[:1000], "list": pickle.dumps([1, 2]),
             "text": b"not a pickle at all"}
    wrong_keys = pickle.loads(pickle.dumps({(9, 9): 1}))  # an int value: no baseline_accuracy
    cases["keys"] = pickle.dumps(wrong_keys)
    for name, blob in cases.items():
        path = tmp_path / f"{name}.anb"
        path.write_bytes(blob)
        with pytest.raises(DataError) as info:
            write_reference(tmp_path / f"{name}.sqlite", path)
        assert "\n" not in str(info.value) and not (tmp_path / f"{name}.sqlite").exists(), name
    with pytest.raises(DataError, match="does not exist"):
        nb201_cifar10(tmp_path / "missing.anb")


def test_correlate_against_the_reference(data_file, tmp_path, cli, sample_bench):
    ref = write_reference(tmp_path / "ref.sqlite", data_file)
    done = cli("bench", "correlate", str(sample_bench), "--against", str(ref), "--out", str(tmp_path / "runs"),
               "--name", "ag", "--quiet")
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "runs" / "ag" / "results" / "agreement.md").read_text()
    assert "over the 300 architectures both hold" in text and "noise ceiling (ref)" in text
    import json

    data = json.loads((tmp_path / "runs" / "ag" / "results" / "agreement.json").read_text())
    assert data["shared"] == 300 and data["columns"] == ["clean"]
    assert all(-1 <= cell["tau"] <= 1 for row in data["cells"] for cell in row)
    # mismatched spaces or no shared architectures: one line, exit 2, no run directory
    from robnas.bench.store import ArchResult, BenchmarkFile
    from robnas.spaces.nb201 import arch_str, unique_key
    from robnas.spaces.nb201.index import unique_ids

    with robnas.bench.open(sample_bench) as b:
        held = set(b.ids().tolist())
    other = tmp_path / "other.sqlite"
    with BenchmarkFile(other, readonly=False) as f:  # two cells the sample does not hold
        f.set_meta({"space": "nb201", "dataset": "digits", "axes": {"clean": {"kind": "clean", "axis": []}}})
        f.add_many([ArchResult(unique_key(arch_str(i)), arch_str(i), i, measures={("clean", "accuracy"): 0.5})
                    for i in [i for i in unique_ids() if i not in held][:2]])
    bad = cli("bench", "correlate", str(sample_bench), "--against", str(other), "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "share" in bad.stderr and not (tmp_path / "bad").exists()
