"""SVHN loader on tiny .mat files written with scipy.io.savemat in the real layout."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from robnas.data import load_dataset
from robnas.errors import DataError

from .fake_files import write_svhn


def test_svhn_layout_and_label_ten_means_zero(tmp_path: Path) -> None:
    written = write_svhn(tmp_path, n_train=12, n_test=5)
    ds = load_dataset("svhn", root=str(tmp_path))
    assert ds.train.images.shape == (12, 3, 32, 32) and ds.test.images.shape == (5, 3, 32, 32)
    assert ds.train.images.dtype == torch.uint8 and ds.train.labels.dtype == torch.int64
    train_x = written["train_32x32.mat"]["X"]
    # out[n, c, h, w] == X[h, w, c, n]
    np.testing.assert_array_equal(ds.train.images.numpy(), train_x.transpose(3, 2, 0, 1))
    assert ds.train.labels.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]
    assert ds.num_classes == 10 and ds.class_names[0] == "0"
    assert 0 <= ds.test.labels.min() and ds.test.labels.max() <= 9


def test_missing_file_is_named(tmp_path: Path) -> None:
    write_svhn(tmp_path)
    os.remove(tmp_path / "test_32x32.mat")
    with pytest.raises(DataError, match=r"'svhn' not found under .*\(missing: test_32x32.mat\)"):
        load_dataset("svhn", root=str(tmp_path))


def test_garbage_mat_file_is_a_data_error(tmp_path: Path) -> None:
    write_svhn(tmp_path)
    (tmp_path / "train_32x32.mat").write_bytes(b"\x00" * 50)
    with pytest.raises(DataError, match="train_32x32.mat"):
        load_dataset("svhn", root=str(tmp_path))


def test_truncated_mat_file_is_a_data_error(tmp_path: Path) -> None:
    write_svhn(tmp_path)
    raw = (tmp_path / "train_32x32.mat").read_bytes()
    (tmp_path / "train_32x32.mat").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="train_32x32.mat"):
        load_dataset("svhn", root=str(tmp_path))


@pytest.mark.parametrize("breakage", ["label_zero", "label_count", "float_pixels", "no_y"])
def test_malformed_contents_are_data_errors(tmp_path: Path, breakage: str) -> None:
    write_svhn(tmp_path)
    content = {"X": np.zeros((32, 32, 3, 4), dtype=np.uint8), "y": np.full((4, 1), 3, dtype=np.uint8)}
    if breakage == "label_zero":
        content["y"][0] = 0
    elif breakage == "label_count":
        content["y"] = content["y"][:3]
    elif breakage == "float_pixels":
        content["X"] = content["X"].astype(np.float64)
    else:
        del content["y"]
    scipy.io.savemat(tmp_path / "test_32x32.mat", content)
    with pytest.raises(DataError, match="test_32x32.mat"):
        load_dataset("svhn", root=str(tmp_path))
