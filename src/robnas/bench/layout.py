"""The published layout of the NAS-Bench-201 robustness dataset (Jung et al., ICLR 2023), both ways.

On disk (as the authors distribute it, and as their helper class ``RobustnessDataset`` reads it)::

    ROOT/meta.json                      {"ids": {id: {"nb201-string": arch, "isomorph": "<rep id>"}},
                                         "epsilons": {attack key: [radii in 1/255 units]}}
    ROOT/<dataset>/<key>_<measure>.json {dataset: {key: {measure: {"<rep id>": value}}}}

``key`` is ``clean``, an attack key (``fgsm@Linf``, ``pgd@Linf``, ``aa_apgd-ce@Linf``,
``aa_square@Linf``) or a corruption name; ``measure`` is ``accuracy`` (a fraction in [0, 1]),
``confidence`` or ``cm`` (confusion matrix). A value is a number (a matrix for ``cm``) for ``clean``
and a list over the key's epsilons (attacks) or the five severities (corruptions) otherwise. Only
representative ids (``isomorph == id``) carry values.

What round-trips (import -> export -> import, value for value): every key and measure of the
layout, for every representative id, and the ids' isomorph mapping. What does not: a robnas
benchmark's extra columns (parameters, FLOPs, timings, seeds, proxies, the recipe, per-point outcomes)
have no place in the layout, so an export leaves them out and an import of the layout has none; like
the published dataset (one training per cell), an export holds one replicate: the first.

``robnas eval`` writes its models' records in the same layout (:func:`write_results`, keyed by model
label instead of NAS-Bench-201 id, radii under ``<dataset>/meta.json``), merging into existing files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from robnas.bench.store import MEASURES, ArchResult, BenchmarkFile
from robnas.errors import DataError, InvalidValueError, UnknownNameError
from robnas.spaces.nb201 import arch_str, unique_key
from robnas.spaces.nb201.index import representatives
from robnas.store.atomic import write_json_atomic

LAYOUT = "robustness-dataset"
SEVERITIES = (1, 2, 3, 4, 5)


def radius_label(eps_255: float) -> str:
    """A radius in 1/255 units as robnas writes eps (``0.5/255``, ``8/255``)."""
    return f"{float(eps_255):g}/255"


def radius_in_255(label: str) -> float:
    """``"8/255"`` -> 8.0 (the published layout's unit), exact for every radius robnas writes."""
    num, _, den = str(label).partition("/")
    value = Fraction(num.strip()) / Fraction(den.strip() or "1") * 255
    return float(value)


def read_json(path: Path, fix: str = "re-download or re-export it") -> Any:
    """``path``'s JSON, or one :class:`DataError` line naming the file and ``fix``."""
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} is not valid JSON ({exc}); {fix}") from exc


# --- import -----------------------------------------------------------------------------------


def _measure_files(folder: Path) -> dict[tuple[str, str], Path]:
    files = {}
    for path in sorted(folder.glob("*.json")):
        key, sep, measure = path.stem.rpartition("_")
        if sep and measure in MEASURES:
            files[(key, measure)] = path
    return files


def _dataset_folder(root: Path, dataset: str | None) -> tuple[str, Path]:
    folders = sorted(p for p in root.iterdir() if p.is_dir() and _measure_files(p))
    if dataset is not None:
        folder = root / dataset
        if folder not in folders:
            raise DataError(f"{root} has no measure files for dataset {dataset!r}; it has: "
                            f"{', '.join(p.name for p in folders) or 'none'}")
        return dataset, folder
    if len(folders) != 1:
        raise DataError(f"{root} holds {len(folders)} datasets ({', '.join(p.name for p in folders) or 'none'}); "
                        "choose one with --dataset")
    return folders[0].name, folders[0]


def _check_complete(files: Mapping[tuple[str, str], Path], folder: Path) -> list[str]:
    """Every key must have the same measures: a missing file is an incomplete download, not an option."""
    keys = sorted({k for k, _ in files})
    measures = sorted({m for _, m in files})
    if "accuracy" not in measures:
        raise DataError(f"{folder} has no <key>_accuracy.json files; download the accuracies too")
    for key in keys:
        for measure in measures:
            if (key, measure) not in files:
                raise DataError(f"{folder} lacks {key}_{measure}.json (other keys have {measure}); download it "
                                f"again or remove the other {measure} files")
    return keys


def meta_ids(meta: Mapping[str, Any], root: Path) -> dict[int, int]:
    """``{id: representative id}`` of a ``meta.json`` (the robustness dataset's; NAS-RobBench-201 ships the same
    file), checked against NAS-Bench-201's own ids and equivalence classes."""
    if "ids" not in meta or not isinstance(meta["ids"], dict):
        raise DataError(f"{root / 'meta.json'} has no 'ids' table; it is not the robustness dataset's meta.json")
    out: dict[int, int] = {}
    for text, entry in meta["ids"].items():
        try:
            ident, rep = int(text), int(entry["isomorph"])
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{root / 'meta.json'}: id {text!r} has no integer 'isomorph'") from None
        if not (0 <= ident < 15625 and 0 <= rep < 15625):
            raise DataError(f"{root / 'meta.json'}: id {text} (isomorph {rep}) is outside 0..15624, the "
                            "NAS-Bench-201 ids")
        if entry.get("nb201-string") != arch_str(ident):
            raise DataError(f"{root / 'meta.json'}: id {ident} is {entry.get('nb201-string')!r}, NAS-Bench-201's id "
                            f"{ident} is {arch_str(ident)}; the file uses another id order")
        if unique_key(arch_str(ident)) != unique_key(arch_str(rep)):
            raise DataError(f"{root / 'meta.json'}: id {ident} is not equivalent to its isomorph {rep}")
        out[ident] = rep
    return out


def read_layout(root: str | Path, dataset: str | None = None) -> tuple[str, dict[str, Any], list[ArchResult]]:
    """(dataset, axes, one ArchResult per representative id) of a directory in the published layout."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root} is not a directory; pass the robustness dataset's root (the folder with meta.json)")
    if not (root / "meta.json").is_file():
        raise DataError(f"{root} has no meta.json; download meta.zip of the robustness dataset into it")
    meta = read_json(root / "meta.json")
    ids = meta_ids(meta, root)
    dataset, folder = _dataset_folder(root, dataset)
    files = _measure_files(folder)
    keys = _check_complete(files, folder)
    epsilons = meta.get("epsilons", {})
    axes: dict[str, Any] = {}
    results: dict[int, ArchResult] = {}
    for (key, measure), path in files.items():
        data = read_json(path)
        try:
            column = data[dataset][key][measure]
        except (KeyError, TypeError):
            raise DataError(f"{path} does not hold {{{dataset!r}: {{{key!r}: {{{measure!r}: ...}}}}}}") from None
        for text, value in column.items():
            ident = int(text)
            rep = ids.get(ident)
            if rep is None or rep != ident:
                raise DataError(f"{path}: id {text} has values but is not a representative id in meta.json")
            arch = arch_str(ident)
            result = results.setdefault(ident, ArchResult(key=unique_key(arch), arch=arch, ident=ident,
                                                         info={"source": LAYOUT}))
            result.measures[(key, measure)] = np.asarray(value)
    for key in keys:
        if key == "clean":
            axes[key] = {"kind": "clean", "axis": []}
        elif key in epsilons:
            axes[key] = {"kind": "attack", "axis": [radius_label(e) for e in epsilons[key]], "norm": key.split("@")[-1]}
        else:
            axes[key] = {"kind": "corruption", "axis": list(SEVERITIES)}
    return dataset, axes, [results[i] for i in sorted(results)]


def import_layout(root: str | Path, out: str | Path, dataset: str | None = None, meta: Mapping[str, Any] = ()) -> Path:
    """Read ``root`` (the published layout) into a new benchmark file ``out``, all or nothing."""
    out = Path(out)
    if out.exists():
        raise InvalidValueError(f"{out} already exists; choose another --out or delete it")
    dataset, axes, results = read_layout(root, dataset)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent if out.parent.exists() else None)
    os.close(fd)
    os.unlink(tmp)
    try:
        with BenchmarkFile(tmp, readonly=False) as bench:
            bench.set_meta({"space": "nb201", "dataset": dataset, "axes": axes, "source": str(Path(root).resolve()),
                            "layout": LAYOUT, **dict(meta)})
            bench.add_many(results)
            bench.pack()
            bench.checkpoint()
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, out)
    finally:
        for leftover in (Path(tmp), Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            if leftover.exists():
                leftover.unlink()
    return out


# --- export -----------------------------------------------------------------------------------


def layout_columns(bench: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(key, measure): {"<rep id>": value}}`` of a benchmark's layout keys (clean, attacks, corruptions)."""
    ids = bench.ids()
    done = bench.status() == "done"
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for key in bench.result_keys():
        if bench.meta["axes"][key]["kind"] not in ("clean", "attack", "corruption"):
            continue
        for measure in MEASURES:
            try:
                values = bench.query(key, measure, replicate=bench.replicates[0] if bench.replicates else None)
            except UnknownNameError:  # a measure the benchmark does not have (e.g. accuracies only)
                continue
            if measure == "cm":
                values = values.astype(np.int64)
            out[(key, measure)] = {str(int(ident)): value.tolist() for ident, ok, value in zip(ids, done, values) if ok}
    return out


def export_layout(bench: Any, out: str | Path) -> list[Path]:
    """Write ``bench`` under ``out/<dataset>/`` with ``out/meta.json``; refuses to overwrite an export."""
    if bench.space != "nb201":
        raise InvalidValueError(f"the {LAYOUT} layout names architectures by NAS-Bench-201 ids; benchmark "
                                f"{bench.name} is over the {bench.space} space")
    out = Path(out)
    if (out / "meta.json").exists() or (out / bench.dataset).exists():
        raise InvalidValueError(f"{out} already holds an export ({out / 'meta.json'} or {out / bench.dataset}); "
                                "choose another directory or delete it")
    present = {int(i) for i, ok in zip(bench.ids(), bench.status() == "done") if ok}
    reps = representatives()
    meta = {"ids": {str(i): {"nb201-string": arch_str(i), "isomorph": str(reps[i])}
                    for i in range(len(reps)) if reps[i] in present},
            "epsilons": {k: [radius_in_255(e) for e in bench.axis(k)] for k in bench.result_keys("attack")}}
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out.parent if out.parent.exists() else None))
    try:
        written = []
        for (key, measure), column in layout_columns(bench).items():
            path = staging / bench.dataset / f"{key}_{measure}.json"
            write_json_atomic(path, {bench.dataset: {key: {measure: column}}})
            written.append(out / bench.dataset / path.name)
        write_json_atomic(staging / "meta.json", meta)
        out.mkdir(parents=True, exist_ok=True)
        os.replace(staging / bench.dataset, out / bench.dataset)
        os.replace(staging / "meta.json", out / "meta.json")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [*written, out / "meta.json"]


# --- run records (robnas eval) ----------------------------------------------------------------


def _read_or_empty(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} is not valid JSON ({exc}); delete it and re-run the evaluation") from exc


def write_results(root: str | Path, dataset: str, results: dict[str, dict[str, dict[str, Any]]],
                  epsilons: dict[str, list[float]], severities: dict[str, list[int]],
                  ids: dict[str, dict[str, Any]]) -> list[Path]:
    """Merge ``results`` (``{id: {key: {measure: value}}}``) into the layout under ``root``, with the radii
    (1/255 units) of each threat-model key and the severities of each corruption key."""
    folder = Path(root) / dataset
    folder.mkdir(parents=True, exist_ok=True)
    keys = sorted({key for per_id in results.values() for key in per_id})
    written = []
    for key in keys:
        for measure in MEASURES:
            path = folder / f"{key}_{measure}.json"
            data = _read_or_empty(path)
            column = data.setdefault(dataset, {}).setdefault(key, {}).setdefault(measure, {})
            for model_id, per_id in results.items():
                if key in per_id:
                    column[str(model_id)] = per_id[key][measure]
            write_json_atomic(path, data)
            written.append(path)
    meta_path = folder / "meta.json"
    meta = _read_or_empty(meta_path)
    meta.setdefault("ids", {}).update({str(k): v for k, v in ids.items()})
    meta.setdefault("epsilons", {}).update({k: list(v) for k, v in epsilons.items()})
    if severities:
        meta.setdefault("severities", {}).update({k: list(v) for k, v in severities.items()})
    meta["units"] = {"accuracy": "percent", "confidence": "mean max softmax probability",
                     "cm": "counts [true][predicted]", "epsilons": "1/255"}
    write_json_atomic(meta_path, meta)
    return [*written, meta_path]


def read_measure(root: str | Path, dataset: str, key: str, measure: str) -> dict[str, Any]:
    """``{id: value}`` of one key and measure."""
    path = Path(root) / dataset / f"{key}_{measure}.json"
    if not path.exists():
        raise DataError(f"no results for {key!r} ({measure}) under {Path(root) / dataset}: expected {path.name}")
    return _read_or_empty(path).get(dataset, {}).get(key, {}).get(measure, {})
