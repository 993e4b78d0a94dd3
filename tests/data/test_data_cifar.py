"""CIFAR-10 / CIFAR-100 loaders on tiny files written in the real python-pickle format."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from robnas.data import load_dataset
from robnas.errors import DataError

from .fake_files import cifar_batch, python2_cifar_pickle, write_cifar10, write_cifar100, write_pickle


def _expected_images(batches: list[dict]) -> np.ndarray:
    return np.concatenate([b[b"data"] for b in batches]).reshape(-1, 3, 32, 32)


@pytest.mark.parametrize("point_at", ["parent", "archive"])
def test_cifar10_loads_from_parent_or_archive_dir(tmp_path: Path, point_at: str) -> None:
    archive = tmp_path / "cifar-10-batches-py"
    batches = write_cifar10(archive, per_batch=4, n_test=5)
    ds = load_dataset("cifar10", root=str(tmp_path if point_at == "parent" else archive))
    train_batches = [batches[f"data_batch_{i}"] for i in range(1, 6)]
    assert ds.train.images.shape == (20, 3, 32, 32) and ds.test.images.shape == (5, 3, 32, 32)
    assert ds.train.images.dtype == torch.uint8 and ds.train.labels.dtype == torch.int64
    np.testing.assert_array_equal(ds.train.images.numpy(), _expected_images(train_batches))
    np.testing.assert_array_equal(ds.train.labels.numpy(), np.concatenate([b[b"labels"] for b in train_batches]))
    np.testing.assert_array_equal(ds.test.images.numpy(), _expected_images([batches["test_batch"]]))
    # Row-major RGB planes: the first 1024 bytes of a row are the red channel.
    np.testing.assert_array_equal(ds.train.images[0, 0].numpy().ravel(), train_batches[0][b"data"][0, :1024])
    assert ds.num_classes == 10 and ds.in_channels == 3 and ds.image_size == (32, 32)
    assert ds.class_names[0] == "airplane" and ds.class_names[9] == "truck"
    pixels = _expected_images(train_batches).astype(np.float64) / 255
    np.testing.assert_allclose(ds.mean, pixels.mean(axis=(0, 2, 3)), rtol=1e-9)
    np.testing.assert_allclose(ds.std, pixels.std(axis=(0, 2, 3)), rtol=1e-9)


def test_cifar10_batch_written_by_python2_loads(tmp_path: Path) -> None:
    archive = tmp_path / "cifar-10-batches-py"
    write_cifar10(archive)
    data = np.random.default_rng(5).integers(0, 256, (3, 3072), dtype=np.uint8)
    (archive / "data_batch_2").write_bytes(python2_cifar_pickle(data, [0, 4, 9]))
    ds = load_dataset("cifar10", root=str(tmp_path))
    np.testing.assert_array_equal(ds.train.images[4:7].numpy(), data.reshape(3, 3, 32, 32))
    assert ds.train.labels[4:7].tolist() == [0, 4, 9]


def test_cifar100_uses_fine_labels(tmp_path: Path) -> None:
    batches = write_cifar100(tmp_path / "cifar-100-python", n_train=12, n_test=6)
    ds = load_dataset("cifar100", root=str(tmp_path))
    assert ds.num_classes == 100 and ds.class_names[17] == "class17"
    assert ds.train.labels.tolist() == batches["train"][b"fine_labels"]
    assert ds.test.labels.tolist() == batches["test"][b"fine_labels"]
    np.testing.assert_array_equal(ds.test.images.numpy(), _expected_images([batches["test"]]))


def test_missing_directory_names_path_expected_files_and_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_dataset("cifar10", root=str(tmp_path / "nowhere"))
    message = str(info.value)
    assert "'cifar10' not found under" in message and str(tmp_path / "nowhere") in message
    assert "cifar-10-batches-py/{data_batch_1..5,test_batch" in message and "--data-root" in message
    assert "missing:" not in message  # nothing there: listing every file again would be noise
    assert "\n" not in message


def test_missing_one_batch_is_named(tmp_path: Path) -> None:
    write_cifar10(tmp_path / "cifar-10-batches-py")
    os.remove(tmp_path / "cifar-10-batches-py" / "data_batch_3")
    with pytest.raises(DataError, match=r"\(missing: data_batch_3\)"):
        load_dataset("cifar10", root=str(tmp_path))


def test_truncated_batch_is_a_data_error_naming_it(tmp_path: Path) -> None:
    archive = tmp_path / "cifar-100-python"
    write_cifar100(archive)
    raw = (archive / "train").read_bytes()
    (archive / "train").write_bytes(raw[:100])
    with pytest.raises(DataError, match=r"cifar-100-python/train"):
        load_dataset("cifar100", root=str(tmp_path))


def test_malicious_batch_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "cifar-10-batches-py"
    write_cifar10(archive)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    (archive / "test_batch").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}, protocol=2))
    with pytest.raises(DataError, match="refusing to load .*test_batch"):
        load_dataset("cifar10", root=str(tmp_path))
    assert not marker.exists()


@pytest.mark.parametrize("breakage", ["wrong_width", "label_count", "label_range", "not_a_dict", "no_labels"])
def test_malformed_batch_contents_are_data_errors(tmp_path: Path, breakage: str) -> None:
    archive = tmp_path / "cifar-10-batches-py"
    write_cifar10(archive)
    batch = cifar_batch(4, 10, b"labels", seed=1)
    if breakage == "wrong_width":
        batch[b"data"] = batch[b"data"][:, :3000]
    elif breakage == "label_count":
        batch[b"labels"] = batch[b"labels"][:3]
    elif breakage == "label_range":
        batch[b"labels"][0] = 10
    elif breakage == "no_labels":
        del batch[b"labels"]
    write_pickle(archive / "data_batch_1", [1, 2] if breakage == "not_a_dict" else batch)
    with pytest.raises(DataError, match="data_batch_1"):
        load_dataset("cifar10", root=str(tmp_path))
