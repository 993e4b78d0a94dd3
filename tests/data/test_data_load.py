"""load_dataset / list_datasets: the embedded digits default, subsets, devices and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from robnas.data import DATASETS, Dataset, list_datasets, load_dataset
from robnas.errors import DataError, InvalidValueError, UnknownNameError

from .fake_files import write_idx_dataset

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def test_registered_names_and_patterns() -> None:
    assert list_datasets() == ["cifar10", "cifar100", "digits", "fashion-mnist", "mnist", "svhn"]
    assert list_datasets("cifar*") == ["cifar10", "cifar100"]
    assert "digits" in DATASETS and len(DATASETS) == 6


def test_digits_has_the_documented_shape_and_split() -> None:
    ds = load_dataset("digits")
    assert isinstance(ds, Dataset) and ds.name == "digits"
    assert len(ds.train) == 1437 and len(ds.test) == 360
    assert ds.num_classes == 10 and ds.in_channels == 1 and ds.image_size == (8, 8)
    assert ds.train.images.shape == (1437, 1, 8, 8) and ds.train.images.dtype == torch.uint8
    assert int(ds.train.images.max()) == 255 and int(ds.train.images.min()) == 0
    assert torch.bincount(ds.test.labels, minlength=10).min() >= 34  # stratified: ~36 per class
    assert 0.25 < ds.mean[0] < 0.35 and 0.3 < ds.std[0] < 0.45


def test_digits_split_is_fixed_whatever_the_seed() -> None:
    a, b = load_dataset("digits", seed=0), load_dataset("digits", seed=123)
    assert torch.equal(a.test.images, b.test.images) and torch.equal(a.train.labels, b.train.labels)
    # Pinned: a change here would silently change every published digits number.
    assert int(a.test.images.to(torch.int64).sum()) == 1791040
    assert a.test.labels[:10].tolist() == [5, 8, 0, 4, 6, 6, 4, 7, 1, 0]


def test_sizes_take_seeded_subsets_and_stats_come_from_the_full_train_split() -> None:
    full = load_dataset("digits")
    small = load_dataset("digits", train_size=100, test_size=50, seed=1)
    assert len(small.train) == 100 and len(small.test) == 50
    assert small.mean == full.mean and small.std == full.std
    again = load_dataset("digits", train_size=100, test_size=50, seed=1)
    other = load_dataset("digits", train_size=100, test_size=50, seed=2)
    assert torch.equal(small.train.images, again.train.images)
    assert not torch.equal(small.train.images, other.train.images)


@pytest.mark.parametrize("device", DEVICES + ["auto"])
def test_splits_live_on_the_requested_device(device: str) -> None:
    ds = load_dataset("digits", device=device, train_size=20, test_size=10)
    expected = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    for split in (ds.train, ds.test):
        assert split.images.device.type == expected and split.labels.device.type == expected


@pytest.mark.parametrize("field, value", [("train_size", 0), ("train_size", -5), ("test_size", 0),
                                          ("train_size", 1438), ("test_size", 361), ("test_size", 2.5)])
def test_bad_sizes_are_invalid_values(field: str, value) -> None:
    with pytest.raises(InvalidValueError, match=field):
        load_dataset("digits", **{field: value})


def test_bad_sizes_are_rejected_before_reading_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match="train_size"):
        load_dataset("mnist", root=str(tmp_path / "absent"), train_size=0)


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(UnknownNameError, match="unknown dataset 'cifar11'.*cifar10"):
        load_dataset("cifar11")


def test_file_datasets_accept_names_case_insensitively_and_subset(tmp_path: Path) -> None:
    write_idx_dataset(tmp_path, n_train=30, n_test=20)
    ds = load_dataset("MNIST", root=str(tmp_path), train_size=10, test_size=10, seed=0)
    assert ds.name == "mnist" and len(ds.train) == 10
    assert torch.bincount(ds.train.labels, minlength=10).tolist() == [1] * 10


def test_missing_default_root_is_a_data_error_not_a_crash(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # ~/.robnas/data is then empty
    with pytest.raises(DataError, match=r"'svhn' not found under .*\.robnas/data"):
        load_dataset("svhn")
