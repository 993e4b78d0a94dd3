"""The dataset registry and :func:`load_dataset`: name -> device-resident train/test splits.

Every dataset is loaded in full on the CPU, its per-channel mean/std are computed from the
FULL training split (before any ``train_size`` subset, so a subset does not shift the model's
Normalize layer), then the optional stratified subsets are taken and moved to the device.
Computing the statistics instead of hard-coding published constants keeps one rule for every
dataset (see :func:`robnas.data.stats.channel_mean_std` for how it relates to published values).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from robnas.data.cifar import CIFAR10, CIFAR100, load_cifar
from robnas.data.digits import load_digits_dataset
from robnas.data.idx import FASHION_MNIST_CLASSES, MNIST_CLASSES, load_idx_dataset
from robnas.data.split import LoadedSplits, Split, subset
from robnas.data.stats import channel_mean_std
from robnas.data.svhn import load_svhn
from robnas.device import resolve_device
from robnas.errors import InvalidValueError
from robnas.registry import Registry

_USER_DATA = "~/.robnas/data"


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded dataset: both splits on one device plus what a model needs to know about them."""

    name: str
    train: Split
    test: Split
    num_classes: int
    in_channels: int
    image_size: tuple[int, int]
    mean: tuple[float, ...]  # per channel, in [0, 1] pixel units
    std: tuple[float, ...]
    class_names: tuple[str, ...]

    def __repr__(self) -> str:  # the default would print every tensor
        return (f"Dataset({self.name!r}, train={self.train!r}, test={self.test!r}, "
                f"num_classes={self.num_classes}, mean={self.mean}, std={self.std})")


@dataclass(frozen=True)
class DatasetSource:
    """How to load one registered dataset: a loader and the directory it reads by default."""

    load: Callable[[Path], LoadedSplits]
    default_root: str | None  # None: needs no files


DATASETS: Registry[DatasetSource] = Registry("dataset")
DATASETS.register("digits")(DatasetSource(load_digits_dataset, None))
DATASETS.register("mnist")(DatasetSource(
    partial(load_idx_dataset, "mnist", class_names=MNIST_CLASSES), "/usr/share/datasets/mnist"))
DATASETS.register("fashion-mnist")(DatasetSource(
    partial(load_idx_dataset, "fashion-mnist", class_names=FASHION_MNIST_CLASSES), "/usr/share/datasets/fashion-mnist"))
DATASETS.register("cifar10")(DatasetSource(partial(load_cifar, CIFAR10), _USER_DATA))
DATASETS.register("cifar100")(DatasetSource(partial(load_cifar, CIFAR100), _USER_DATA))
DATASETS.register("svhn")(DatasetSource(load_svhn, _USER_DATA))


def list_datasets(pattern: str = "*") -> list[str]:
    """Registered dataset names matching a shell-style pattern, sorted."""
    return DATASETS.names(pattern)


def _check_requested_size(size: int | None, what: str) -> None:
    if size is None:
        return
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise InvalidValueError(f"{what} must be a positive integer or None (the full split), got {size!r}")


def resized(split: Split, side: int) -> Split:
    """``split`` with its images shrunk to ``side`` x ``side`` by area averaging, rounded back to uint8.

    Area averaging is what a camera of lower resolution would see (each new pixel the mean of the
    old pixels it covers; an exact 2x2 mean for 28 -> 14); enlarging is refused, since it adds no
    information and only multiplies the cost of every network.
    """
    height, width = split.images.shape[-2:]
    if side > min(height, width):
        raise InvalidValueError(f"resize={side} would enlarge {height}x{width} images; use at most {min(height, width)}")
    if (height, width) == (side, side):
        return split
    small = torch.nn.functional.interpolate(split.images.to(torch.float32), size=(side, side), mode="area")
    return Split(small.round_().clamp_(0, 255).to(torch.uint8), split.labels)


def load_dataset(name: str, root: str | None = None, device: torch.device | str = "cpu",
                 train_size: int | None = None, test_size: int | None = None, seed: int = 0,
                 resize: int | None = None) -> Dataset:
    """Load ``name`` from ``root`` (default: the dataset's usual directory) onto ``device``.

    ``train_size`` / ``test_size`` take deterministic stratified subsets chosen by ``seed``;
    ``None`` keeps the full split. ``resize`` shrinks the images to ``resize`` x ``resize`` pixels
    (:func:`resized`; the statistics are those of the resized images). ``device`` accepts ``"auto"``.
    """
    source = DATASETS.get(name)
    _check_requested_size(train_size, "train_size")
    _check_requested_size(test_size, "test_size")
    _check_requested_size(resize, "resize")
    target = resolve_device(device) if isinstance(device, str) else torch.device(device)
    root_text = root if root is not None else (source.default_root or ".")
    loaded = source.load(Path(root_text).expanduser())
    if resize is not None:
        loaded = LoadedSplits(resized(loaded.train, resize), resized(loaded.test, resize), loaded.class_names)
    for size, split, what in ((train_size, loaded.train, "train"), (test_size, loaded.test, "test")):
        if size is not None and size > len(split):
            raise InvalidValueError(f"{what}_size={size} exceeds the {len(split)} samples of the {name} {what} split;"
                                    f" use at most {len(split)} or omit it for the full split")
    mean, std = channel_mean_std(loaded.train.images)
    train = subset(loaded.train, train_size, seed).to(target)
    test = subset(loaded.test, test_size, seed).to(target)
    _, channels, height, width = train.images.shape
    return Dataset(name=name.lower(), train=train, test=test, num_classes=len(loaded.class_names),
                   in_channels=channels, image_size=(height, width), mean=mean, std=std,
                   class_names=loaded.class_names)
