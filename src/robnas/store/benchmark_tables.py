"""Benchmark tables read into ``(arch, metrics)`` rows for the results database's tabular mode.

Three layouts are read:

* a directory in the robustness-dataset layout of Jung et al. (:mod:`robnas.store.robustness_layout`):
  ``clean`` accuracy becomes ``clean_error`` and every attack key at every radius becomes
  ``robust_error:<attack>@<eps>`` (``aa_apgd-ce`` -> ``apgd-ce``, ``aa_square`` -> ``square``), all in
  percent, so the names are the objectives' own; corruption keys are not read;
* a CSV file with an ``arch`` column and one numeric column per metric (or, as our own export
  writes them, ``metric:<name>`` columns);
* a JSON list of records as :meth:`ResultsDB.export_json` writes it (``done`` rows only).

:func:`keyed_rows` validates every architecture against the search space before anything is
written, so a malformed table is refused as a whole with one line naming the bad row.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from robnas.eps import Eps
from robnas.errors import DataError, ParseError, RobnasError

if TYPE_CHECKING:
    from robnas.spaces import SearchSpace

Row = tuple[str, dict[str, float]]

#: Attack names of the robustness dataset's keys -> robnas attack names.
_DATASET_ATTACKS = {"fgsm": "fgsm", "pgd": "pgd", "aa_apgd-ce": "apgd-ce", "aa_square": "square"}


def read_table(path: str | Path, dataset: str) -> list[Row]:
    """The rows of a benchmark table at ``path`` (layout chosen by what ``path`` is)."""
    source = Path(path)
    if source.is_dir():
        return read_robustness_dataset(source, dataset)
    if not source.is_file():
        raise DataError(f"benchmark table {source} does not exist (a robustness-dataset directory, .csv or .json)")
    if source.suffix.lower() == ".csv":
        return read_csv_table(source)
    if source.suffix.lower() == ".json":
        return read_json_records(source)
    raise DataError(f"benchmark table {source}: unknown format {source.suffix!r}; use a robustness-dataset "
                    "directory, a .csv or a .json export")


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} is not valid JSON ({exc})") from exc


def read_robustness_dataset(root: Path, dataset: str) -> list[Row]:
    """``clean_error`` and ``robust_error:<attack>@<eps>`` of every id of ``root/<dataset>/``, in id order."""
    folder = root / dataset
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise DataError(f"{root} holds no robustness dataset for {dataset!r}: expected {meta_path}")
    meta = _load_json(meta_path)
    ids, epsilons = meta.get("ids", {}), meta.get("epsilons", {})
    metrics: dict[str, dict[str, float]] = {str(i): {} for i in ids}
    clean_path = folder / "clean_accuracy.json"
    if clean_path.is_file():
        for i, acc in _load_json(clean_path).get(dataset, {}).get("clean", {}).get("accuracy", {}).items():
            metrics.setdefault(str(i), {})["clean_error"] = 100.0 - float(acc)
    for key, radii in epsilons.items():
        attack = _DATASET_ATTACKS.get(key.split("@")[0])
        path = folder / f"{key}_accuracy.json"
        if attack is None or not path.is_file():
            continue
        for i, accs in _load_json(path).get(dataset, {}).get(key, {}).get("accuracy", {}).items():
            if not isinstance(accs, list) or len(accs) != len(radii):
                raise DataError(f"{path}: id {i} has {accs!r:.80}, expected one accuracy per radius {radii}")
            for eps, acc in zip(radii, accs):
                metrics.setdefault(str(i), {})[f"robust_error:{attack}@{Eps.from_255(eps).label}"] = 100.0 - float(acc)
    rows = []
    for i in sorted(metrics, key=lambda s: (len(s), s)):  # numeric order: the lowest id of a class comes first
        entry = ids.get(i)
        if not isinstance(entry, dict) or "nb201-string" not in entry:
            raise DataError(f"{meta_path}: id {i} has results but no 'nb201-string' in meta.json ids")
        if metrics[i]:
            rows.append((entry["nb201-string"], metrics[i]))
    return rows


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{where}: {text!r} is not a number") from None


def read_csv_table(path: Path) -> list[Row]:
    """An ``arch`` column plus metric columns (``metric:<name>`` columns when present, else every other one)."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        head = reader.fieldnames or []
        if "arch" not in head:
            raise DataError(f"{path}: a benchmark table CSV needs an 'arch' column; it has {head}")
        prefixed = [c for c in head if c.startswith("metric:")]
        columns = {c: c.removeprefix("metric:") for c in prefixed} if prefixed else \
            {c: c for c in head if c not in ("arch", "key", "seed")}
        rows = []
        for line, row in enumerate(reader, start=2):
            if "status" in row and row["status"] not in ("done", None):
                continue
            values = {name: _number(row[c], f"{path} line {line} column {c!r}")
                      for c, name in columns.items() if row.get(c) not in ("", None)}
            rows.append((row["arch"], values))
    return rows


def read_json_records(path: Path) -> list[Row]:
    """The ``done`` records of a :meth:`ResultsDB.export_json` file."""
    data = _load_json(path)
    if not isinstance(data, list) or not all(isinstance(r, dict) and "arch" in r for r in data):
        raise DataError(f"{path}: expected a JSON list of records with 'arch' and 'metrics' (robnas export)")
    return [(r["arch"], {k: float(v) for k, v in r.get("metrics", {}).items()})
            for r in data if r.get("status", "done") == "done"]


def keyed_rows(space: "SearchSpace", rows: list[Row], source: str | Path) -> list[tuple[str, str, dict[str, float]]]:
    """``(key, normalised arch, metrics)`` of every row; a malformed architecture fails the whole table."""
    out = []
    for n, (arch, metrics) in enumerate(rows, start=1):
        try:
            normal = space.validate(arch)
            out.append((space.key(normal), normal, metrics))
        except RobnasError as exc:
            raise ParseError(f"benchmark table {source}, row {n}: {exc}") from None
    return out
