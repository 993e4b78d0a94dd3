"""Published reference accuracies: NAS-Bench-201's CIFAR-10 test accuracy of all 15,625 cells.

The only offline copy of these numbers that installs from PyPI is the ``analog-nasbench`` wheel
(``pip install --no-deps analog-nasbench==0.1.3``): its ``analognasbench/data.anb`` is a pickle of a
dict from NASLib op-index tuples to objects of the package's own ``Architecture`` class, whose
``baseline_accuracy`` is NAS-Bench-201's CIFAR-10 test accuracy (200 epochs). The wheel carries no
licence file, so robnas never copies the numbers: it reads them at run time from the installed
wheel (or a file the user names), without importing the package (which needs pandas) and
without unpickling anything but those two plain record classes. :func:`write_reference` turns them
into a benchmark file (``robnas bench reference OUT``) that ``bench correlate A --against`` compares with.

Keys: ops over the edges 0->1, 0->2, 0->3, 1->2, 1->3, 2->3 (NASLib's order), with op indices
0 skip_connect, 1 none, 2 nor_conv_3x3, 3 nor_conv_1x1, 4 avg_pool_3x3.
"""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from robnas.bench.store import ArchResult, BenchmarkFile
from robnas.errors import DataError, InvalidValueError
from robnas.spaces.nb201.arch import arch_to_str
from robnas.spaces.nb201.index import NUM_ARCHS, arch_from_ops, arch_of, canonical_key, index_of, representatives
from robnas.store.atomic import atomic_path

#: NASLib's op indices.
NASLIB_OPS: tuple[str, ...] = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
#: NASLib's edge order as (to, from) pairs; robnas' edge order is 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2.
_NASLIB_EDGES = ((1, 0), (2, 0), (3, 0), (2, 1), (3, 1), (3, 2))
_ROBNAS_EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
_FROM_NASLIB = tuple(_NASLIB_EDGES.index(edge) for edge in _ROBNAS_EDGES)

PACKAGE = "analognasbench"
DATA_FILE = "data.anb"
INSTALL_HINT = "pip install --no-deps analog-nasbench==0.1.3"


class _Record:
    """What an unpickled ``Architecture`` / ``DriftMeasurement`` becomes: its attributes, nothing else."""

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise pickle.UnpicklingError("a record's state is not a dict")
        self.__dict__.update(state)


class _ReferenceUnpickler(pickle.Unpickler):
    """Resolves only the wheel's two record classes (to :class:`_Record`); any other global is refused."""

    _ALLOWED = {(f"{PACKAGE}.data", "Architecture"), (f"{PACKAGE}.data", "DriftMeasurement")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return _Record
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


def arch_of_naslib(ops: tuple[int, ...]) -> str:
    """The NAS-Bench-201 arch string of a NASLib op-index tuple."""
    names = tuple(NASLIB_OPS[ops[i]] for i in _FROM_NASLIB)
    return arch_to_str(arch_from_ops(names))


def installed_file() -> Path:
    """The ``data.anb`` of the installed analog-nasbench wheel, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"the NAS-Bench-201 CIFAR-10 reference needs the analog-nasbench wheel: {INSTALL_HINT} "
                        "(or pass the path of its data.anb)")
    for folder in spec.submodule_search_locations:
        if (Path(folder) / DATA_FILE).is_file():
            return Path(folder) / DATA_FILE
    raise DataError(f"the installed {PACKAGE} has no {DATA_FILE}; reinstall it: {INSTALL_HINT}")


def nb201_cifar10(path: str | Path | None = None) -> dict[int, float]:
    """NAS-Bench-201 id -> published CIFAR-10 test accuracy (percent) of all 15,625 cells.

    ``path`` is an analog-nasbench ``data.anb`` (default: the installed wheel's). A file that is not
    one -- unreadable, another pickle, wrong keys, missing cells, accuracies outside [0, 100] -- is
    refused with one line naming it.
    """
    file = Path(path) if path is not None else installed_file()
    bad = f"{file} is not analog-nasbench's data.anb (NAS-Bench-201 reference)"
    try:
        with open(file, "rb") as handle:
            table = _ReferenceUnpickler(handle).load()
    except FileNotFoundError:
        raise DataError(f"reference file {file} does not exist; {INSTALL_HINT} or pass its data.anb") from None
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, MemoryError) as exc:
        raise DataError(f"{bad}: {exc.__class__.__name__}: {str(exc)[:80]}; {INSTALL_HINT}") from None
    if not isinstance(table, dict):
        raise DataError(f"{bad}: it holds a {type(table).__name__}, not a dict of cells")
    out: dict[int, float] = {}
    for key, record in table.items():
        if not (isinstance(key, tuple) and len(key) == 6 and all(isinstance(k, int) and 0 <= k < 5 for k in key)):
            raise DataError(f"{bad}: key {key!r} is not a tuple of six op indices 0..4")
        accuracy = getattr(record, "baseline_accuracy", None)
        if not isinstance(accuracy, (int, float)) or not 0.0 <= float(accuracy) <= 100.0:
            raise DataError(f"{bad}: cell {key} has no baseline_accuracy in [0, 100] (got {accuracy!r})")
        out[index_of(arch_of_naslib(key))] = float(accuracy)
    if len(out) != NUM_ARCHS:
        raise DataError(f"{bad}: it covers {len(out)} of the {NUM_ARCHS} cells")
    return out


#: Replicates kept per class: NAS-Bench-201 trained every cell of a class on its own, so a class's members are
#: independent trainings of one function -- the reference's own seed noise (1350 classes have two or more).
REFERENCE_REPLICATES = 3
REFERENCE_DATASET = "cifar10"


def reference_results(accuracy: dict[int, float]) -> list[ArchResult]:
    """One run per (class, member) for the first :data:`REFERENCE_REPLICATES` members of every NAS-Bench-201
    class, in id order (replicate 0 is the representative, the lowest id): clean accuracy as a fraction."""
    members: dict[int, list[int]] = {}
    for ident, rep in enumerate(representatives()):
        members.setdefault(rep, []).append(ident)
    out = []
    for rep in sorted(members):
        arch = arch_of(rep)
        key = canonical_key(arch)
        for replicate, ident in enumerate(members[rep][:REFERENCE_REPLICATES]):
            out.append(ArchResult(key=key, arch=arch, ident=rep, replicate=replicate,
                                  info={"source": "NAS-Bench-201", "id": ident, "class_size": len(members[rep])},
                                  measures={("clean", "accuracy"): np.asarray(accuracy[ident] / 100.0)}))
    return out


def write_reference(out: str | Path, path: str | Path | None = None) -> Path:
    """A benchmark file of NAS-Bench-201's published CIFAR-10 test accuracies (clean accuracy only), for
    ``bench correlate A --against`` it; written whole or not at all. Never shipped: the numbers come from
    the user's installed analog-nasbench wheel (or ``path``)."""
    out = Path(out)
    if out.exists():
        raise InvalidValueError(f"{out} already exists; choose another file or delete it")
    accuracy = nb201_cifar10(path)  # a bad reference file fails here, before anything is written
    source = str(path) if path is not None else f"analog-nasbench ({INSTALL_HINT})"
    meta = {"space": "nb201", "dataset": REFERENCE_DATASET, "axes": {"clean": {"kind": "clean", "axis": []}},
            "reference": {"what": "NAS-Bench-201 CIFAR-10 test accuracy (200 epochs, Dong & Yang 2020)",
                          "source": source, "replicates": "the first members of each class, in id order"},
            "replicates": REFERENCE_REPLICATES}
    with atomic_path(out) as tmp:
        with BenchmarkFile(tmp, readonly=False) as bench:
            bench.set_meta(meta)
            bench.add_many(reference_results(accuracy))
            bench.pack()
            bench.checkpoint()
    return out
