"""CIFAR-10 and CIFAR-100 from the "python version" archives, unpickled safely.

Each batch file is a pickled dict with ``b"data"`` (uint8 ``[N, 3072]``: the red, green and
blue 32x32 planes of each image, row-major) and a list of labels (``b"labels"`` in CIFAR-10,
``b"fine_labels"`` in CIFAR-100). The files were written by Python 2, hence bytes keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robnas.data.files import find_dataset_dir, missing_files, not_found
from robnas.data.safe_pickle import load_pickle
from robnas.data.split import LoadedSplits, Split
from robnas.errors import DataError

_PIXELS = 3 * 32 * 32


@dataclass(frozen=True)
class CifarLayout:
    """Where one CIFAR variant keeps its batches, labels and class names."""

    dataset: str
    title: str  # as on the CIFAR web page
    subdir: str
    train_files: tuple[str, ...]
    test_file: str
    meta_file: str
    label_key: bytes
    names_key: bytes
    num_classes: int
    expected: str  # the file list as shown in the not-found error

    @property
    def all_files(self) -> tuple[str, ...]:
        return (*self.train_files, self.test_file, self.meta_file)


CIFAR10 = CifarLayout(
    dataset="cifar10", title="CIFAR-10", subdir="cifar-10-batches-py",
    train_files=tuple(f"data_batch_{i}" for i in range(1, 6)), test_file="test_batch",
    meta_file="batches.meta", label_key=b"labels", names_key=b"label_names", num_classes=10,
    expected="cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}",
)
CIFAR100 = CifarLayout(
    dataset="cifar100", title="CIFAR-100", subdir="cifar-100-python",
    train_files=("train",), test_file="test", meta_file="meta",
    label_key=b"fine_labels", names_key=b"fine_label_names", num_classes=100,
    expected="cifar-100-python/{train,test,meta}",
)


def _load_dict(path: Path, keys: Sequence[bytes]) -> dict[bytes, Any]:
    content = load_pickle(path)
    if not isinstance(content, dict) or any(key not in content for key in keys):
        wanted = ", ".join(key.decode() for key in keys)
        raise DataError(f"cannot read {path}: expected a pickled dict with keys {wanted}; download the dataset again")
    return content


def _load_batch(path: Path, layout: CifarLayout) -> tuple[np.ndarray, np.ndarray]:
    """Images (uint8 ``[N, 3, 32, 32]``) and labels (int64 ``[N]``) of one batch file."""
    content = _load_dict(path, (b"data", layout.label_key))
    data = content[b"data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _PIXELS:
        shape = getattr(data, "shape", None)
        raise DataError(f"cannot read {path}: b'data' must be a uint8 array [N, {_PIXELS}], got {shape};"
                        " download the dataset again")
    labels = np.asarray(content[layout.label_key])
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"cannot read {path}: {len(data)} images but labels of shape {labels.shape}"
                        f" ({labels.dtype}); download the dataset again")
    if len(labels) and (labels.min() < 0 or labels.max() >= layout.num_classes):
        raise DataError(f"cannot read {path}: labels must lie in 0..{layout.num_classes - 1}")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _load_split(directory: Path, files: Sequence[str], layout: CifarLayout) -> Split:
    batches = [_load_batch(directory / name, layout) for name in files]
    images = np.concatenate([images for images, _ in batches])
    labels = np.concatenate([labels for _, labels in batches])
    if len(images) == 0:
        raise DataError(f"{directory} holds no {layout.dataset} images; download the dataset again")
    return Split(torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels))


def load_cifar(layout: CifarLayout, root: Path) -> LoadedSplits:
    """(train, test, class names); ``root`` is the archive directory or its parent."""
    directory = find_dataset_dir(root, layout.subdir, layout.all_files)
    if directory is None:
        nearest = root / layout.subdir if (root / layout.subdir).is_dir() else root
        absent = missing_files(nearest, layout.all_files)
        raise not_found(layout.dataset, root, layout.expected, absent, len(layout.all_files),
                        f"download the python version from the {layout.title} page and pass --data-root")
    meta_path = directory / layout.meta_file
    raw_names = _load_dict(meta_path, (layout.names_key,))[layout.names_key]
    names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in raw_names)
    if len(names) != layout.num_classes:
        raise DataError(f"cannot read {meta_path}: {len(names)} class names, expected {layout.num_classes}")
    train = _load_split(directory, layout.train_files, layout)
    test = _load_split(directory, (layout.test_file,), layout)
    return LoadedSplits(train, test, names)
