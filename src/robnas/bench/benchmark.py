"""Query a robustness benchmark: ``robnas.bench.open(path or name)`` -> :class:`Benchmark`.

Everything is aligned with :meth:`Benchmark.archs` (one row per evaluated architecture, i.e. per
canonical key). ``query(key, measure, eps)`` returns a numpy array over the architectures: a vector
at one radius (or severity), a matrix over all of them, or stacked confusion matrices. An
architecture trained several times (replicates, ``bench build --seeds K``) answers with the mean over
its replicates, or one replicate's value (``replicate=r``); :meth:`Benchmark.replicate_values` gives
them all, and :meth:`Benchmark.points` which test points a replicate classified correctly. Columns
are read on first use and kept, so a study touches only the measurements it reads.

Architectures are found by arch string, canonical key, or -- in the NAS-Bench-201 space -- by any
of the 15 625 ids, which maps to the representative of its class (the lowest id, as the robustness
dataset of Jung et al. evaluates it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from robnas.bench.store import POINTS, BenchmarkFile, unpack_points
from robnas.eps import Eps
from robnas.errors import DataError, InvalidValueError, ParseError, UnknownNameError
from robnas.spaces import get_space
from robnas.spaces.nb201 import arch_str, representative

SCALAR_KINDS = ("clean", "proxy")


def same_radius(a: str | float, b: str | float) -> bool:
    return Eps.parse(a) == Eps.parse(b)


class Benchmark:
    """A read-only view of one benchmark file."""

    def __init__(self, path: str | Path, immutable: bool = False, name: str | None = None) -> None:
        self.file = BenchmarkFile(path, readonly=True, immutable=immutable)
        self.path = self.file.path
        self.name = name or self.path.stem
        self.meta: dict[str, Any] = self.file.meta()
        for field in ("space", "dataset", "axes"):
            if field not in self.meta:
                raise DataError(f"{self.path} lacks the benchmark description ({field}); it is incomplete or not "
                                "made by robnas bench build/import")
        fields = ("row", "key", "arch", "ident", "status")
        self._rows = [dict(zip(fields, values)) for values in self.file.arch_rows(fields)]
        rows = np.array([r["row"] for r in self._rows], dtype=np.int64)
        # arch row id -> position in archs(): rows are dense from 1, but a lookup table is robust to gaps
        self._positions_of_rows = np.full(int(rows.max(initial=0)) + 1, -1, dtype=np.int64)
        self._positions_of_rows[rows] = np.arange(len(rows))
        self._columns: dict[tuple[str, str, int], np.ndarray] = {}
        self.replicates: list[int] = self.file.replicates()

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> "Benchmark":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"Benchmark({self.name!r}: {len(self)} {self.space} architectures on {self.dataset})"

    # --- what is in it -------------------------------------------------------------------------

    @property
    def space(self) -> str:
        return self.meta["space"]

    @property
    def dataset(self) -> str:
        return self.meta["dataset"]

    def archs(self) -> list[str]:
        """The representative arch string of every architecture, in the order of every query."""
        return [r["arch"] for r in self._rows]

    def keys(self) -> list[str]:
        """The canonical keys, aligned with :meth:`archs`."""
        return [r["key"] for r in self._rows]

    def ids(self) -> np.ndarray:
        """NAS-Bench-201 ids of the representatives (-1 outside that space)."""
        return np.array([-1 if r["ident"] is None else r["ident"] for r in self._rows], dtype=np.int64)

    def row_ids(self) -> list[int]:
        """The file's row id of every architecture (what a writer adds measures to), aligned with archs()."""
        return [r["row"] for r in self._rows]

    def status(self) -> np.ndarray:
        return np.array([r["status"] for r in self._rows])

    def column(self, name: str) -> np.ndarray:
        """A per-architecture scalar of the archs table: params, flops, seed, train_seconds, eval_seconds."""
        if name not in ("params", "flops", "seed", "train_seconds", "eval_seconds"):
            raise InvalidValueError(f"unknown architecture column {name!r}; use params, flops, seed, train_seconds "
                                    "or eval_seconds")
        return np.array([np.nan if v is None else v for (v,) in self.file.arch_rows((name,))], dtype=np.float64)

    def info(self, name: str) -> np.ndarray:
        """A per-architecture value of the rows' ``info`` (e.g. ``nb201_params_m``), NaN where absent."""
        return np.array([json.loads(text).get(name, np.nan) for (text,) in self.file.arch_rows(("info",))],
                        dtype=np.float64)

    def result_keys(self, kind: str | None = None) -> list[str]:
        """Result keys (``clean``, ``fgsm@Linf``, corruption names, ``proxy:jacobian@init``, ...)."""
        return [k for k, a in self.meta["axes"].items() if kind is None or a["kind"] == kind]

    def axis(self, key: str) -> list[Any]:
        """The radii (eps labels) of an attack key, the severities of a corruption, [] for scalars."""
        return list(self._axis(key)["axis"])

    def _axis(self, key: str) -> dict[str, Any]:
        axes = self.meta["axes"]
        if key not in axes:
            raise UnknownNameError(f"benchmark {self.name} has no measurement {key!r}; it has: "
                                   f"{', '.join(axes)}")
        return axes[key]

    # --- queries -------------------------------------------------------------------------------

    def _load(self, key: str, measure: str, replicate: int) -> np.ndarray:
        if (key, measure, replicate) not in self._columns:
            self._axis(key)
            found = self.file.column(key, measure, replicate)
            if found is None and not any(self.file.column(key, measure, r) is not None for r in self.replicates):
                raise UnknownNameError(f"benchmark {self.name} has no {measure!r} for {key!r}; measures: "
                                       f"{', '.join(sorted({m for k, m in self.file.result_keys() if k == key}))}")
            if found is None:  # this replicate lacks the measure (e.g. an architecture built with fewer seeds)
                shape = next(c[1].shape[1:] for r in self.replicates if (c := self.file.column(key, measure, r)))
                found = (np.zeros(0, dtype=np.int64), np.zeros((0, *shape)))
            rows, values = found
            dtype = np.uint8 if measure == POINTS else np.float64
            out = np.full((len(self._rows), *values.shape[1:]), 0 if measure == POINTS else np.nan, dtype=dtype)
            out[self._positions_of_rows[rows]] = values
            self._columns[(key, measure, replicate)] = out
        return self._columns[(key, measure, replicate)]

    def _replicate(self, replicate: int) -> int:
        if replicate not in self.replicates:
            raise InvalidValueError(f"benchmark {self.name} has replicates {self.replicates}, not {replicate!r}")
        return replicate

    def replicate_values(self, key: str, measure: str = "accuracy", eps: Any = None) -> np.ndarray:
        """``[replicates, architectures, ...]``: every replicate's value (NaN where an architecture lacks one)."""
        return np.stack([self.query(key, measure, eps, replicate=r) for r in self.replicates])

    def query(self, key: str, measure: str = "accuracy", eps: Any = None,
              replicate: int | Sequence[int] | None = None) -> np.ndarray:
        """``key``'s ``measure`` for every architecture (NaN where not measured, e.g. failed builds).

        ``eps`` picks one radius of an attack key ("8/255", 0.5/255, ...) or one severity (1-5) of a
        corruption; without it the result has one column per radius / severity. Accuracy is a fraction
        in [0, 1] (as the published robustness dataset stores it). ``replicate=None`` gives the mean over
        an architecture's replicates, ``replicate=r`` the value of replicate ``r`` alone, a sequence of
        replicates the mean over those (e.g. the held-out ones a search did not select on).
        """
        if measure == POINTS:
            raise InvalidValueError("per-point outcomes are bits of one replicate: use Benchmark.points(key, eps, "
                                    "replicate)")
        if replicate is None:
            replicate = self.replicates if len(self.replicates) > 1 else (self.replicates[0] if self.replicates else 0)
        if not isinstance(replicate, (int, np.integer)):
            chosen = [self._replicate(int(r)) for r in replicate]
            if not chosen:
                raise InvalidValueError("query over an empty set of replicates")
            if len(chosen) > 1:
                stacked = np.stack([self.query(key, measure, eps, replicate=r) for r in chosen])
                with np.errstate(invalid="ignore"):
                    counts = np.sum(~np.isnan(stacked), axis=0)
                    mean = np.nansum(stacked, axis=0) / np.maximum(counts, 1)
                return np.where(counts > 0, mean, np.nan)
            replicate = chosen[0]
        values = self._load(key, measure, self._replicate(int(replicate)) if self.replicates else int(replicate))
        axis = self._axis(key)
        if eps is None:
            return values
        if axis["kind"] in SCALAR_KINDS:
            raise InvalidValueError(f"{key!r} has one value per architecture; query it without eps")
        return values[:, self._position(key, axis, eps)]

    @property
    def test_points(self) -> int | None:
        """How many test points every evaluation used (None for benchmarks without per-point outcomes)."""
        return self.meta.get("test_points")

    def points(self, key: str, eps: Any = None, replicate: int = 0) -> np.ndarray:
        """Bool ``[architectures, test points]``: which points replicate ``replicate`` classified correctly
        under ``key`` at ``eps`` (clean: no eps). Architectures without the run are all False."""
        n = self.test_points
        if n is None:
            raise UnknownNameError(f"benchmark {self.name} stores no per-point outcomes (built before they existed); "
                                   "rebuild it to compare architectures point by point")
        bits = self._load(key, POINTS, self._replicate(replicate))
        axis = self._axis(key)
        if axis["kind"] not in SCALAR_KINDS:
            if eps is None:
                raise InvalidValueError(f"{key!r} has one outcome row per radius / severity: pass eps")
            bits = bits[:, self._position(key, axis, eps)]
        return unpack_points(bits, n)

    def _position(self, key: str, axis: dict[str, Any], eps: Any) -> int:
        labels = axis["axis"]
        if axis["kind"] == "corruption":
            if eps in labels:
                return labels.index(eps)
            raise InvalidValueError(f"{key!r} has severities {labels}, not {eps!r}")
        try:
            return next(i for i, label in enumerate(labels) if same_radius(label, eps))
        except (StopIteration, InvalidValueError):
            raise InvalidValueError(f"{key!r} was measured at eps {', '.join(map(str, labels))}, not {eps!r}") from None

    def corruption_mean(self, measure: str = "accuracy", replicate: int | Sequence[int] | None = None) -> np.ndarray:
        """Mean over every corruption and severity (the robustness dataset's mean corruption accuracy)."""
        keys = self.result_keys("corruption")
        if not keys:
            raise UnknownNameError(f"benchmark {self.name} has no corruption measurements")
        return np.mean([self.query(k, measure, replicate=replicate).mean(axis=1) for k in keys], axis=0)

    # --- one architecture ----------------------------------------------------------------------

    def lookup(self, arch: str | int) -> int:
        """Position (in :meth:`archs`) of an arch string, canonical key or NAS-Bench-201 id."""
        key = self.key_of(arch)
        try:
            return self._key_positions[key]
        except KeyError:
            raise DataError(f"architecture {arch!r} (key {key}) is not in benchmark {self.name} "
                            f"({len(self)} architectures)") from None

    def key_of(self, arch: str | int) -> str:
        space = get_space(self.space)
        ident = arch if isinstance(arch, int) else int(arch) if isinstance(arch, str) and arch.strip().isdigit() else None
        if ident is not None:
            if self.space != "nb201":
                raise InvalidValueError(f"numeric ids name NAS-Bench-201 cells; benchmark {self.name} is over the "
                                        f"{self.space} space: pass an arch string")
            return space.key(arch_str(representative(ident)))
        if arch in self._key_positions:
            return str(arch)
        try:
            return space.key(space.validate(str(arch)))
        except ParseError as exc:
            raise ParseError(f"{arch!r} is neither a {self.space} architecture nor a key of benchmark {self.name}: "
                             f"{exc}") from None

    def record(self, arch: str | int) -> dict[str, Any]:
        """Everything stored for one architecture: its row and every replicate's measurements, as plain data
        (``measures`` is the first replicate's; ``replicates`` holds each replicate's run and measures)."""
        i = self.lookup(arch)
        row = self.file.arch_row(self._rows[i]["row"])
        runs = {r: (status, seed) for rw, r, status, seed in self.file.run_rows() if rw == row["row"]}
        replicates = []
        for replicate, (status, seed) in sorted(runs.items()):
            measures: dict[str, dict[str, Any]] = {}
            for (key, measure), value in sorted(self.file.measures_of(row["row"], replicate).items()):
                entry = measures.setdefault(key, {"axis": self.meta["axes"].get(key, {}).get("axis", [])})
                entry[measure] = value.tolist()
            replicates.append({"replicate": replicate, "status": status, "seed": seed, "measures": measures})
        row.pop("row")
        return {**row, "measures": replicates[0]["measures"] if replicates else {}, "replicates": replicates}

    def summary(self) -> dict[str, Any]:
        done = self.status() == "done"
        return {"name": self.name, "space": self.space, "dataset": self.dataset, "architectures": len(self),
                "done": int(done.sum()), "failed": int((~done).sum()), "replicates": len(self.replicates),
                "test_points": self.test_points, "result_keys": self.result_keys(),
                "recipe": self.meta.get("recipe"), "protocol": self.meta.get("protocol", {}).get("name")}

    @cached_property
    def _key_positions(self) -> dict[str, int]:
        return {k: i for i, k in enumerate(self.keys())}

    def positions(self, archs: Sequence[str]) -> np.ndarray:
        """Positions of many canonical keys at once (fast path for tabular search)."""
        try:
            return np.array([self._key_positions[k] for k in archs], dtype=np.int64)
        except KeyError as exc:
            raise DataError(f"key {exc.args[0]} is not in benchmark {self.name}") from None
