"""Split validation, and determinism / disjointness / stratification of subset and split_train_val."""

from __future__ import annotations

import pytest
import torch

from robnas.data import Split, load_dataset, split_train_val, subset
from robnas.errors import InvalidValueError

from .indexed import indexed_split, indices_of


def test_split_checks_dtypes_shapes_and_lengths() -> None:
    images = torch.zeros(4, 1, 2, 2, dtype=torch.uint8)
    with pytest.raises(InvalidValueError, match="uint8"):
        Split(images.float(), torch.zeros(4, dtype=torch.int64))
    with pytest.raises(InvalidValueError, match="int64"):
        Split(images, torch.zeros(4, dtype=torch.int32))
    with pytest.raises(InvalidValueError, match="4 images but 3 labels"):
        Split(images, torch.zeros(3, dtype=torch.int64))


def test_float_images_and_to() -> None:
    split = Split(torch.tensor([0, 51, 255, 128], dtype=torch.uint8).reshape(2, 1, 1, 2),
                  torch.tensor([0, 1]))
    assert len(split) == 2
    full = split.float_images()
    assert full.dtype == torch.float32 and full.min() == 0.0 and full.max() == 1.0
    assert torch.equal(split.float_images(torch.tensor([1])), full[1:])
    assert split.float_images()[0, 0, 0, 1] == pytest.approx(0.2)
    moved = split.to("cpu")
    assert moved.images.device.type == "cpu" and torch.equal(moved.labels, split.labels)
    assert split.images.dtype == torch.uint8  # float_images did not modify the stored tensor


def test_subset_is_deterministic_sorted_and_seed_dependent() -> None:
    split = indexed_split(torch.arange(200) % 4)
    a, b = subset(split, 40, seed=1), subset(split, 40, seed=1)
    assert indices_of(a) == indices_of(b)
    assert indices_of(a) == sorted(set(indices_of(a))) and len(a) == 40
    assert indices_of(subset(split, 40, seed=2)) != indices_of(a)
    assert torch.equal(a.labels, split.labels[indices_of(a)])
    assert subset(split, None, seed=0) is split and len(subset(split, 200, seed=0)) == 200


def test_subset_is_stratified_on_digits() -> None:
    train = load_dataset("digits").train
    small = subset(train, 100, seed=3)
    full_share = torch.bincount(train.labels, minlength=10) * 100 / len(train)
    counts = torch.bincount(small.labels, minlength=10)
    assert counts.sum() == 100
    assert (counts - full_share).abs().max() < 1  # largest-remainder rounding of the exact share


def test_tiny_subset_takes_distinct_classes_not_always_the_first() -> None:
    split = indexed_split(torch.arange(100) % 10)
    picked = [tuple(sorted(subset(split, 3, seed=s).labels.tolist())) for s in range(6)]
    assert all(len(set(p)) == 3 for p in picked)
    assert len(set(picked)) > 1


@pytest.mark.parametrize("size", [0, -1, 201, True, 2.5])
def test_subset_rejects_bad_sizes(size) -> None:
    with pytest.raises(InvalidValueError, match="subset size"):
        subset(indexed_split(torch.arange(200) % 4), size, seed=0)


@pytest.mark.parametrize("val_size", [30, 0.15])
def test_split_train_val_is_disjoint_complete_and_deterministic(val_size) -> None:
    split = indexed_split(torch.arange(200) % 5)
    train, val = split_train_val(split, val_size, seed=7)
    assert len(val) == 30 and len(train) == 170
    assert set(indices_of(train)).isdisjoint(indices_of(val))
    assert sorted(indices_of(train) + indices_of(val)) == list(range(200))
    assert torch.bincount(val.labels).tolist() == [6] * 5  # stratified
    again_train, again_val = split_train_val(split, val_size, seed=7)
    assert indices_of(again_val) == indices_of(val) and indices_of(again_train) == indices_of(train)
    assert indices_of(split_train_val(split, val_size, seed=8)[1]) != indices_of(val)


@pytest.mark.parametrize("val_size", [0, 200, -5, 0.0, 1.0, 1.5])
def test_split_train_val_rejects_bad_sizes(val_size) -> None:
    with pytest.raises(InvalidValueError, match="val_size"):
        split_train_val(indexed_split(torch.arange(200) % 5), val_size, seed=0)
