"""MNIST-style IDX files (``*-idx3-ubyte`` images, ``*-idx1-ubyte`` labels), gzipped or not.

Format (big-endian): a magic number ``0x0000TTDD`` where TT = 0x08 means unsigned bytes and DD
is the number of dimensions, then DD uint32 dimension sizes, then the data in C order.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from robnas.data.files import not_found
from robnas.data.split import LoadedSplits, Split
from robnas.errors import DataError

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dims: [N, rows, cols]
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dim: [N]

# (images, labels) file stems of each split.
_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

MNIST_CLASSES = tuple(str(digit) for digit in range(10))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise DataError(f"cannot read {path}: corrupt or truncated file ({exc}); download it again") from None


def parse_idx(raw: bytes, expected_magic: int, path: Path) -> np.ndarray:
    """The uint8 array stored in an IDX file's bytes; ``path`` is only used in error messages."""
    if len(raw) < 4:
        raise DataError(f"cannot read {path}: too short for an IDX header; download it again")
    (magic,) = struct.unpack(">I", raw[:4])
    if magic != expected_magic:
        raise DataError(f"cannot read {path}: IDX magic number 0x{magic:08x}, expected 0x{expected_magic:08x};"
                        " is it the right file?")
    ndim = magic & 0xFF
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(f"cannot read {path}: truncated IDX header; download it again")
    dims = struct.unpack(f">{ndim}I", raw[4:header_size])
    expected = int(np.prod(dims))
    found = len(raw) - header_size
    if found != expected:
        raise DataError(f"cannot read {path}: header promises {expected} bytes for shape {dims} but the file"
                        f" holds {found}; it is truncated or corrupt, download it again")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims)


def _locate(directory: Path, stem: str) -> Path | None:
    """``stem.gz`` if present, else the uncompressed ``stem``, else None."""
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def _load_idx_split(images_path: Path, labels_path: Path, num_classes: int) -> Split:
    images = parse_idx(_read_bytes(images_path), IMAGES_MAGIC, images_path)
    labels = parse_idx(_read_bytes(labels_path), LABELS_MAGIC, labels_path)
    if len(images) != len(labels) or len(images) == 0:
        raise DataError(f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels;"
                        " they must match and be non-empty, download the dataset again")
    if labels.max() >= num_classes:
        raise DataError(f"{labels_path} has label {labels.max()}, expected 0..{num_classes - 1}")
    # The copy detaches the tensor from the read-only bytes buffer.
    return Split(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)))


def load_idx_dataset(dataset: str, root: Path, class_names: tuple[str, ...]) -> LoadedSplits:
    """The train and test splits from the four IDX files in ``root`` (each ``.gz`` or uncompressed)."""
    stems = [stem for pair in _SPLIT_FILES.values() for stem in pair]
    paths = {stem: _locate(root, stem) for stem in stems}
    absent = [stem for stem, path in paths.items() if path is None]
    if absent:
        raise not_found(dataset, root, f"{{{','.join(stems)}}}[.gz]", absent, len(stems),
                        f"download the four IDX files of {dataset} into that directory or pass --data-root")
    found = {stem: path for stem, path in paths.items() if path is not None}  # all of them; narrows the type
    splits = {part: _load_idx_split(found[images], found[labels], len(class_names))
              for part, (images, labels) in _SPLIT_FILES.items()}
    return LoadedSplits(splits["train"], splits["test"], class_names)
