"""Load pickled dataset files without letting them run code.

The CIFAR batches are Python pickles, and a pickle can name any importable callable and have
it called while loading (``os.system`` included). :class:`RestrictedUnpickler` resolves only
the handful of globals that a pickled dict of numpy arrays needs, and refuses everything else
with a :class:`DataError`, before anything is called.
"""

from __future__ import annotations

import codecs
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from robnas.errors import DataError

# numpy's array rebuild function lives in numpy.core.multiarray (numpy 1.x, and the Python 2
# pickles of the real CIFAR files) or numpy._core.multiarray (numpy 2); take it from an actual
# array's reduce tuple instead of importing a private module by name.
_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(0))[0]


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` limited to latin-1: how protocol-2 pickles from Python 3 store ``bytes``."""
    if codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class _RefusedGlobal(pickle.UnpicklingError):
    """A pickle named a global outside the allow-list."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can build dicts, lists, bytes and numpy arrays, and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise _RefusedGlobal(f"{module}.{name}") from None


def load_pickle(path: Path) -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler` (``encoding="bytes"``, for Python 2 files).

    Raises :class:`DataError` naming the file when it is unreadable, truncated, malformed, or
    references anything beyond plain containers and numpy arrays.
    """
    try:
        with open(path, "rb") as handle:
            return RestrictedUnpickler(handle, encoding="bytes").load()
    except _RefusedGlobal as exc:
        raise DataError(
            f"refusing to load {path}: the pickle references {exc}, which a dataset file never needs;"
            " it may be malicious, so replace it with a fresh download") from None
    except FileNotFoundError:
        raise DataError(f"dataset file {path} is missing; download the dataset again") from None
    # A damaged pickle can fail in many ways (bad opcode, early EOF, a bad argument to a
    # numpy constructor); all of them mean the same thing to the user.
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, TypeError, KeyError,
            IndexError, AttributeError, MemoryError) as exc:
        raise DataError(f"cannot read {path}: malformed or truncated pickle ({exc.__class__.__name__});"
                        " download the dataset again") from None
