"""The restricted unpickler loads numpy-array dicts and refuses anything that could run code."""

from __future__ import annotations

import codecs
import os
import pickle
import subprocess
from pathlib import Path

import numpy as np
import pytest

from robnas.data.safe_pickle import load_pickle
from robnas.errors import DataError

from .fake_files import cifar_batch, python2_cifar_pickle, write_pickle


class _CallOnLoad:
    """Pickles as ``func(*args)``: what an attacker's pickle does."""

    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def test_round_trip_of_a_cifar_style_dict(tmp_path: Path) -> None:
    batch = cifar_batch(6, 10, b"labels", seed=3)
    write_pickle(tmp_path / "batch", batch)
    loaded = load_pickle(tmp_path / "batch")
    assert set(loaded) == set(batch)
    np.testing.assert_array_equal(loaded[b"data"], batch[b"data"])
    assert loaded[b"data"].dtype == np.uint8
    assert loaded[b"labels"] == batch[b"labels"]
    assert loaded[b"filenames"] == batch[b"filenames"]


def test_python2_cpickle_file_loads_with_bytes_keys(tmp_path: Path) -> None:
    data = np.arange(2 * 3072, dtype=np.int64).reshape(2, 3072).astype(np.uint8)
    (tmp_path / "py2").write_bytes(python2_cifar_pickle(data, [3, 7]))
    loaded = load_pickle(tmp_path / "py2")
    np.testing.assert_array_equal(loaded[b"data"], data)
    assert loaded[b"labels"] == [3, 7]


@pytest.mark.parametrize("protocol", [2, 4])
def test_pickle_calling_os_system_is_refused_and_nothing_runs(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    payload = {b"data": _CallOnLoad(os.system, f"touch {marker}")}
    (tmp_path / "evil").write_bytes(pickle.dumps(payload, protocol=protocol))
    with pytest.raises(DataError, match=r"refusing to load .*evil.*os\.system|refusing to load .*evil.*posix\.system"):
        load_pickle(tmp_path / "evil")
    assert not marker.exists()


@pytest.mark.parametrize("func, args", [(eval, ("1+1",)), (subprocess.call, (["true"],)),
                                        (getattr, (np.ndarray, "tofile")), (codecs.encode, ("abc", "rot13"))])
def test_other_dangerous_or_unneeded_calls_are_refused(tmp_path: Path, func, args) -> None:
    (tmp_path / "evil").write_bytes(pickle.dumps(_CallOnLoad(func, *args), protocol=2))
    with pytest.raises(DataError, match="evil"):
        load_pickle(tmp_path / "evil")


def test_truncated_pickle_is_a_data_error_naming_the_file(tmp_path: Path) -> None:
    raw = pickle.dumps(cifar_batch(4, 10, b"labels", seed=0), protocol=2)
    (tmp_path / "data_batch_1").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="data_batch_1.*malformed or truncated"):
        load_pickle(tmp_path / "data_batch_1")


def test_garbage_and_missing_files_are_data_errors(tmp_path: Path) -> None:
    (tmp_path / "garbage").write_bytes(b"this is not a pickle at all")
    with pytest.raises(DataError, match="garbage"):
        load_pickle(tmp_path / "garbage")
    with pytest.raises(DataError, match="absent"):
        load_pickle(tmp_path / "absent")
