"""SVHN cropped digits (format 2): ``train_32x32.mat`` and ``test_32x32.mat``.

Each file holds ``X`` (uint8 ``[32, 32, 3, N]``) and ``y`` (``[N, 1]``), where the digit 0 is
stored as label 10; it is mapped back to 0 here so labels are 0..9.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from robnas.data.files import missing_files, not_found
from robnas.data.split import LoadedSplits, Split
from robnas.errors import DataError

_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}
CLASS_NAMES = tuple(str(digit) for digit in range(10))


def _read_mat(path: Path) -> dict:
    # Imported here: scipy.io is slow to import and only this loader needs it.
    import scipy.io

    try:
        return scipy.io.loadmat(path, variable_names=("X", "y"))
    # scipy reports damaged files as any of these (MatReadError is a plain Exception subclass).
    except (scipy.io.matlab.MatReadError, OSError, ValueError, TypeError, KeyError, EOFError) as exc:
        raise DataError(f"cannot read {path}: not a valid MATLAB v5 file ({exc.__class__.__name__});"
                        " download it again") from None


def _load_split(path: Path) -> Split:
    content = _read_mat(path)
    if "X" not in content or "y" not in content:
        raise DataError(f"cannot read {path}: expected variables X and y; is it an SVHN *_32x32.mat file?")
    images, labels = content["X"], np.asarray(content["y"]).reshape(-1)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[:3] != (32, 32, 3):
        raise DataError(f"cannot read {path}: X must be uint8 [32, 32, 3, N], got {images.dtype} {images.shape}")
    if len(labels) != images.shape[3] or len(labels) == 0:
        raise DataError(f"cannot read {path}: {images.shape[3]} images but {len(labels)} labels; download it again")
    if labels.min() < 1 or labels.max() > 10:
        raise DataError(f"cannot read {path}: SVHN labels must lie in 1..10, got {labels.min()}..{labels.max()}")
    labels = labels.astype(np.int64) % 10  # SVHN stores the digit 0 as 10
    # [H, W, C, N] -> [N, C, H, W]; the copy makes it contiguous for fast batch slicing.
    images = np.ascontiguousarray(images.transpose(3, 2, 0, 1))
    return Split(torch.from_numpy(images), torch.from_numpy(labels))


def load_svhn(root: Path) -> LoadedSplits:
    """The SVHN train and test splits from ``root`` (the ``extra`` split is not used)."""
    absent = missing_files(root, tuple(_FILES.values()))
    if absent:
        raise not_found("svhn", root, f"{{{','.join(_FILES.values())}}}", absent, len(_FILES),
                        "download the format-2 .mat files from the SVHN page and pass --data-root")
    return LoadedSplits(_load_split(root / _FILES["train"]), _load_split(root / _FILES["test"]), CLASS_NAMES)
