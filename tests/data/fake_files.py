"""Writers of tiny dataset files in the exact on-disk formats of the real datasets (test helpers)."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import scipy.io


# --- IDX (MNIST / Fashion-MNIST) -------------------------------------------------------------

def idx_bytes(array: np.ndarray, magic: int | None = None, dims: tuple[int, ...] | None = None) -> bytes:
    """An IDX file: big-endian magic 0x0000080D, D big-endian uint32 dims, then the uint8 data."""
    dims = array.shape if dims is None else dims
    magic = (0x0800 | len(dims)) if magic is None else magic
    return struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims) + array.astype(np.uint8).tobytes()


def write_idx_dataset(directory: Path, n_train: int = 30, n_test: int = 20, gz: bool = True,
                      seed: int = 0) -> dict[str, np.ndarray]:
    """Write the four MNIST files (28x28, 10 classes); return the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.permutation(np.arange(n_test) % 10).astype(np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for stem, array in arrays.items():
        write_file(directory / stem, idx_bytes(array), gz)
    return arrays


def write_file(path: Path, payload: bytes, gz: bool) -> Path:
    """Write ``payload`` to ``path`` (as ``path.gz``, gzipped, when ``gz``)."""
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as handle:
            handle.write(payload)
    else:
        path.write_bytes(payload)
    return path


# --- CIFAR (python pickles) -------------------------------------------------------------------

def cifar_batch(n: int, num_classes: int, label_key: bytes, seed: int) -> dict[bytes, object]:
    """A batch dict shaped like the real ones: bytes keys, uint8 [n, 3072] data, a list of int labels."""
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"training batch",
        label_key: [int(v) for v in rng.integers(0, num_classes, n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }


def write_pickle(path: Path, content: object) -> None:
    with open(path, "wb") as handle:
        pickle.dump(content, handle, protocol=2)


def write_cifar10(directory: Path, per_batch: int = 4, n_test: int = 5) -> dict[str, dict]:
    """Write cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}; return the batches written."""
    directory.mkdir(parents=True, exist_ok=True)
    batches = {f"data_batch_{i}": cifar_batch(per_batch, 10, b"labels", seed=i) for i in range(1, 6)}
    batches["test_batch"] = cifar_batch(n_test, 10, b"labels", seed=99)
    for name, batch in batches.items():
        write_pickle(directory / name, batch)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    write_pickle(directory / "batches.meta", {b"label_names": names, b"num_vis": 3072})
    return batches


def write_cifar100(directory: Path, n_train: int = 12, n_test: int = 6) -> dict[str, dict]:
    """Write cifar-100-python/{train,test,meta}; return the batches written."""
    directory.mkdir(parents=True, exist_ok=True)
    batches = {"train": cifar_batch(n_train, 100, b"fine_labels", seed=1),
               "test": cifar_batch(n_test, 100, b"fine_labels", seed=2)}
    for batch in batches.values():
        batch[b"coarse_labels"] = [label // 5 for label in batch[b"fine_labels"]]
    for name, batch in batches.items():
        write_pickle(directory / name, batch)
    write_pickle(directory / "meta", {b"fine_label_names": [f"class{i}".encode() for i in range(100)],
                                      b"coarse_label_names": [f"super{i}".encode() for i in range(20)]})
    return batches


def python2_cifar_pickle(data: np.ndarray, labels: list[int]) -> bytes:
    """A protocol-2 pickle of ``{'data': data, 'labels': labels}`` as Python 2's cPickle writes it.

    Python 2 ``str`` becomes SHORT_BINSTRING / BINSTRING (read back as bytes with
    ``encoding="bytes"``) and numpy arrays are rebuilt through ``numpy.core.multiarray``.
    """

    def string(raw: bytes) -> bytes:
        if len(raw) < 256:
            return b"U" + bytes([len(raw)]) + raw
        return b"T" + struct.pack("<i", len(raw)) + raw

    def integer(value: int) -> bytes:
        return b"J" + struct.pack("<i", value)

    dtype = (b"cnumpy\ndtype\n" + string(b"u1") + integer(0) + integer(1) + b"\x87R"
             + b"(" + integer(3) + string(b"|") + b"NNN" + integer(-1) + integer(-1) + integer(0) + b"tb")
    array = (b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n" + integer(0) + b"\x85"
             + string(b"b") + b"\x87R"
             + b"(" + integer(1) + integer(data.shape[0]) + integer(data.shape[1]) + b"\x86" + dtype
             + b"\x89" + string(data.tobytes()) + b"tb")
    label_list = b"](" + b"".join(integer(v) for v in labels) + b"e"
    return b"\x80\x02}(" + string(b"data") + array + string(b"labels") + label_list + b"u."


# --- SVHN (MATLAB v5) -------------------------------------------------------------------------

def write_svhn(directory: Path, n_train: int = 7, n_test: int = 5) -> dict[str, dict[str, np.ndarray]]:
    """Write train_32x32.mat / test_32x32.mat (X [32, 32, 3, N] uint8, y [N, 1] in 1..10)."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    written = {}
    for name, n in (("train_32x32.mat", n_train), ("test_32x32.mat", n_test)):
        content = {"X": rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8),
                   "y": (np.arange(n) % 10 + 1).astype(np.uint8).reshape(n, 1)}
        scipy.io.savemat(directory / name, content)
        written[name] = content
    return written
