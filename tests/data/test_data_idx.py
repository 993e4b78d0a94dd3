"""MNIST / Fashion-MNIST loaders on tiny IDX files (gzipped and raw) with real headers."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from robnas.data import load_dataset
from robnas.errors import DataError

from .fake_files import idx_bytes, write_file, write_idx_dataset


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
@pytest.mark.parametrize("gz", [True, False])
def test_idx_dataset_loads_exact_pixels_and_labels(tmp_path: Path, name: str, gz: bool) -> None:
    arrays = write_idx_dataset(tmp_path, n_train=30, n_test=20, gz=gz)
    ds = load_dataset(name, root=str(tmp_path))
    assert ds.train.images.shape == (30, 1, 28, 28) and ds.test.images.shape == (20, 1, 28, 28)
    assert ds.train.images.dtype == torch.uint8 and ds.test.labels.dtype == torch.int64
    np.testing.assert_array_equal(ds.train.images[:, 0].numpy(), arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(ds.test.images[:, 0].numpy(), arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(ds.train.labels.numpy(), arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(ds.test.labels.numpy(), arrays["t10k-labels-idx1-ubyte"])
    assert ds.num_classes == 10 and ds.in_channels == 1 and ds.image_size == (28, 28)
    pixels = arrays["train-images-idx3-ubyte"] / 255.0
    assert ds.mean == pytest.approx((pixels.mean(),), rel=1e-9)
    assert ds.std == pytest.approx((pixels.std(),), rel=1e-9)


def test_class_names_differ_between_mnist_and_fashion(tmp_path: Path) -> None:
    write_idx_dataset(tmp_path)
    assert load_dataset("mnist", root=str(tmp_path)).class_names[3] == "3"
    assert load_dataset("fashion-mnist", root=str(tmp_path)).class_names[9] == "Ankle boot"


def test_gz_is_preferred_over_raw_file(tmp_path: Path) -> None:
    arrays = write_idx_dataset(tmp_path, gz=True)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"stale, unreadable")
    ds = load_dataset("mnist", root=str(tmp_path))
    np.testing.assert_array_equal(ds.train.images[:, 0].numpy(), arrays["train-images-idx3-ubyte"])


def test_missing_directory_names_path_and_files(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_dataset("fashion-mnist", root=str(tmp_path / "absent"))
    message = str(info.value)
    assert "'fashion-mnist' not found under" in message and str(tmp_path / "absent") in message
    assert "train-images-idx3-ubyte" in message and "--data-root" in message


def test_missing_one_file_is_named(tmp_path: Path) -> None:
    write_idx_dataset(tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(DataError, match=r"missing: t10k-labels-idx1-ubyte\)"):
        load_dataset("mnist", root=str(tmp_path))


def test_truncated_gzip_is_a_data_error_naming_it(tmp_path: Path) -> None:
    write_idx_dataset(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz"):
        load_dataset("mnist", root=str(tmp_path))


@pytest.mark.parametrize("gz", [True, False])
def test_idx_with_fewer_images_than_its_header_is_a_data_error(tmp_path: Path, gz: bool) -> None:
    write_idx_dataset(tmp_path, n_train=30, gz=gz)
    images = np.zeros((29, 28, 28), dtype=np.uint8)
    write_file(tmp_path / "train-images-idx3-ubyte", idx_bytes(images, dims=(30, 28, 28)), gz)
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.*header promises 23520 bytes.*holds 22736"):
        load_dataset("mnist", root=str(tmp_path))


def test_image_and_label_counts_must_match(tmp_path: Path) -> None:
    write_idx_dataset(tmp_path, n_test=20)
    write_file(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.zeros(19, dtype=np.uint8)), gz=True)
    with pytest.raises(DataError, match="20 images but .* 19 labels"):
        load_dataset("mnist", root=str(tmp_path))


def test_wrong_magic_number_is_a_data_error(tmp_path: Path) -> None:
    """A labels file where the images file should be (magic 0x801 instead of 0x803)."""
    write_idx_dataset(tmp_path)
    labels = gzip.decompress((tmp_path / "train-labels-idx1-ubyte.gz").read_bytes())
    write_file(tmp_path / "train-images-idx3-ubyte", labels, gz=True)
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: IDX magic number 0x00000801, expected 0x00000803"):
        load_dataset("mnist", root=str(tmp_path))


def test_label_out_of_range_is_a_data_error(tmp_path: Path) -> None:
    write_idx_dataset(tmp_path, n_train=30)
    write_file(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.full(30, 10, dtype=np.uint8)), gz=True)
    with pytest.raises(DataError, match="label 10"):
        load_dataset("mnist", root=str(tmp_path))


def test_header_shorter_than_declared_dims_is_a_data_error(tmp_path: Path) -> None:
    write_idx_dataset(tmp_path)
    write_file(tmp_path / "t10k-images-idx3-ubyte", bytes.fromhex("00000803") + b"\x00\x00", gz=True)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz: truncated IDX header"):
        load_dataset("mnist", root=str(tmp_path))
