"""The on-disk layout of the NAS-Bench-201 robustness dataset (Jung et al.).

``<root>/<dataset>/<key>_<measure>.json`` holds ``{dataset: {key: {measure: {id: value}}}}`` for
each result key (``clean``, ``fgsm@Linf``, ..., corruption names) and measure (``accuracy``,
``confidence``, ``cm``); ``<root>/<dataset>/meta.json`` holds ``ids`` (``{id: {"nb201-string":
..., "isomorph": id}}`` for NAS-Bench-201 cells, or any description of the evaluated model),
``epsilons`` (``{key: [radii in 1/255 units]}``) and ``severities`` (``{corruption: [1, ..., 5]}``).
A value is a number for ``clean`` and a list over the key's epsilons (or corruption severities)
otherwise. (:meth:`robnas.evaluation.record.EvaluationRecord.robustness_layout` gives a record in
this form.)

Writes merge into existing files (new ids are added, rewritten ids replaced) and each file is
replaced atomically, so an interrupted run leaves every file either old or new, never torn.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from robnas.errors import DataError
from robnas.store.atomic import write_json_atomic

MEASURES = ("accuracy", "confidence", "cm")


def _read(path: Path) -> dict[str, Any]:
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
            data = _read(path)
            column = data.setdefault(dataset, {}).setdefault(key, {}).setdefault(measure, {})
            for model_id, per_id in results.items():
                if key in per_id:
                    column[str(model_id)] = per_id[key][measure]
            write_json_atomic(path, data)
            written.append(path)
    meta_path = folder / "meta.json"
    meta = _read(meta_path)
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
    return _read(path).get(dataset, {}).get(key, {}).get(measure, {})
