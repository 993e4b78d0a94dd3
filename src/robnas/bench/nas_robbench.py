"""NAS-RobBench-201 (Wu et al., ICLR 2024) as its authors publish it, read into a benchmark file.

On disk (the authors' release, as their helper class ``NasRobBench201`` reads it)::

    ROOT/meta.json                   the robustness dataset's meta.json, unchanged: {"ids": {id:
                                     {"nb201-string": arch, "isomorph": "<rep id>"}}, "epsilons": ...}
    ROOT/NAS-RobBench-201_all.json   {dataset: {uid: {metric: {"1": value, "threeseed": value}}}}

``uid`` is the NAS-Bench-201 id (a decimal string) of a class representative, the lowest id of its
class: the helper maps any id to ``meta["ids"][id]["isomorph"]`` before indexing, and the 6466 ids
the authors trained are exactly robnas's representatives. ``metric`` is the name their training
script logs, ``<split>_acc`` (clean) or ``<split>_<attack>_<eps * 255>_acc`` (``val_fgsm_3.0_acc``,
``val_pgd_8.0_acc``): attacks from torchattacks, all L-inf (FGSM; PGD with 20 steps of 2.5 eps / 20;
APGD; Square; AutoAttack), radii in 1/255 units. Their ``val`` split is the dataset's test set (the
script validates on it, and never runs a separate ``test`` stage). Values are accuracies as
fractions in [0, 1] (torchmetrics' ``Accuracy``). ``"1"`` is the run with seed 1 (their launcher's
seed); ``threeseed`` is one number per metric, read here as the mean over the three seeds the paper
trained (6466 x 3 datasets x 3 seeds). Datasets are named as the script's ``--data``: ``cifar10``,
``cifar100``, ``imagenet`` (ImageNet16-120). ``autoattack`` is a bare number per uid, without split,
radius or seed keys (so code that reads the release indexes it; the authors' script has no such name).

Assumed where no source says (and refused when a file contradicts it): ``threeseed`` is the mean of
three seeds, or a list of the three per-seed values; several seed keys (``"1"``, ``"2"``, ``"3"``) are
per-seed values, and ``threeseed`` then equals their mean; ``autoattack`` is L-inf at 8/255 on the
``val`` images; every uid has the same metrics.

Into robnas: one architecture per uid (its NAS-Bench-201 representative, canonical key and arch
string), ``clean`` and one key per attack (``fgsm@Linf``, ``pgd@Linf``, ``apgd-ce@Linf``,
``square@Linf``, ``autoattack@Linf``) with its radii as the axis. Per-seed values become replicates
0, 1, ... (so noise ceilings work); a file with one seed per metric and ``threeseed`` means (the
published one) gives one replicate, the three-seed mean, unless ``seeds`` names a seed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robnas.bench.layout import meta_ids, radius_label, read_json
from robnas.bench.store import ArchResult, BenchmarkFile
from robnas.errors import DataError, InvalidValueError
from robnas.spaces.nb201 import arch_str, representative, unique_key
from robnas.store.atomic import atomic_path

LAYOUT = "nas-robbench-201"
META_FILE = "meta.json"
ALL_FILE = "NAS-RobBench-201_all.json"
MEAN = "threeseed"
SEEDS_PER_MEAN = 3
SPLITS = ("val", "test")
#: The attacks of the authors' script -> robnas result keys (torchattacks' L-inf attacks).
ATTACK_KEYS = {"fgsm": "fgsm@Linf", "pgd": "pgd@Linf", "apgd": "apgd-ce@Linf", "square": "square@Linf",
               "autoattack": "autoattack@Linf"}
#: Metrics published without split or radius in their name: (result key, assumed radius in 1/255).
BARE_METRICS = {"autoattack": ("autoattack@Linf", 8.0)}
_METRIC = re.compile(r"(?P<split>train|val|test)(?:_(?P<attack>[a-z][a-z0-9-]*)_(?P<eps>\d+(?:\.\d+)?))?_acc")
_REDOWNLOAD = f"re-download {ALL_FILE} from the NAS-RobBench-201 release"
#: |threeseed - mean of the seeds| tolerated: the values are float32 accuracies written as JSON doubles.
_MEAN_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Metric:
    """What a published metric name measures."""

    name: str
    split: str | None          # train | val | test; None for a bare metric (autoattack)
    key: str                   # robnas result key: "clean" or an attack key
    eps: float | None          # radius in 1/255 units (None for clean)


def parse_metric(name: str, where: Path) -> Metric:
    """``val_pgd_8.0_acc`` -> Metric("val", "pgd@Linf", 8.0); one DataError line for a name robnas can't place."""
    if name in BARE_METRICS:
        key, eps = BARE_METRICS[name]
        return Metric(name, None, key, eps)
    found = _METRIC.fullmatch(name)
    if found is None:
        raise DataError(f"{where}: metric {name!r} is not <split>_acc or <split>_<attack>_<eps>_acc (split: train, "
                        f"val, test); {_REDOWNLOAD}")
    attack = found["attack"]
    if attack is None:
        return Metric(name, found["split"], "clean", None)
    if attack not in ATTACK_KEYS:
        raise DataError(f"{where}: metric {name!r} names attack {attack!r}, which the authors' script does not run; "
                        f"robnas places {', '.join(ATTACK_KEYS)} (L-inf) and no other")
    return Metric(name, found["split"], ATTACK_KEYS[attack], float(found["eps"]))


# --- seeds --------------------------------------------------------------------------------------

SEED_MODES = ("auto", "replicates", "mean")
_SEED_TEXT = {"replicates": "one replicate per seed of the file",
              "mean": f"one replicate: the mean over {SEEDS_PER_MEAN} seeds ({MEAN!r}); bare metrics as published",
              "seed": "one replicate: the run of this seed; bare metrics as published"}


def _is_number(text: Any) -> bool:
    return isinstance(text, str) and text.isascii() and text.isdigit()


@dataclass(frozen=True)
class Seeds:
    """One metric of one uid: its per-seed values (label, value) in replicate order, and its mean."""

    per_seed: tuple[tuple[str, float], ...]
    mean: float | None
    bare: bool = False         # a bare number: one value whose seed the file does not record (label "")


def _accuracy(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0.0 <= value <= 1.0:
        raise DataError(f"{where} is {value!r}, not an accuracy fraction in [0, 1] (NAS-RobBench-201 stores "
                        f"fractions); {_REDOWNLOAD}")
    return float(value)


def _read_seeds(record: Any, where: str) -> Seeds:
    """The seeds of one ``[dataset][uid][metric]`` entry: a bare number, or ``{"1": v, ..., "threeseed": m}``
    where ``threeseed`` is a number (the mean) or a list of the three per-seed values."""
    if not isinstance(record, dict):
        return Seeds((("", _accuracy(record, where)),), None, bare=True)
    unknown = [k for k in record if k != MEAN and not _is_number(k)]
    if unknown or not record:
        raise DataError(f"{where} has keys {sorted(record)}; expected seed numbers ('1', ...) and {MEAN!r}; "
                        f"{_REDOWNLOAD}")
    labels = sorted((k for k in record if k != MEAN), key=int)
    seeds = tuple((k, _accuracy(record[k], f"{where}/{k}")) for k in labels)
    if MEAN not in record:
        return Seeds(seeds, None)
    mean = record[MEAN]
    if isinstance(mean, list):
        if len(mean) != SEEDS_PER_MEAN:
            raise DataError(f"{where}/{MEAN} lists {len(mean)} values, not {SEEDS_PER_MEAN}: inconsistent seeds; "
                            f"{_REDOWNLOAD}")
        listed = tuple((f"{MEAN}[{i}]", _accuracy(v, f"{where}/{MEAN}[{i}]")) for i, v in enumerate(mean))
        # a seed key beside the list must be one of the list's runs (which one is not recorded)
        stray = [k for k, v in seeds if not any(abs(v - w) <= _MEAN_TOLERANCE for _, w in listed)]
        if stray:
            raise DataError(f"{where}/{stray[0]} is none of the runs listed in {MEAN}: inconsistent seeds; "
                            f"{_REDOWNLOAD}")
        return Seeds(listed, float(np.mean([v for _, v in listed])))
    mean = _accuracy(mean, f"{where}/{MEAN}")
    if len(seeds) == SEEDS_PER_MEAN:
        average = float(np.mean([v for _, v in seeds]))
        if abs(average - mean) > _MEAN_TOLERANCE:
            raise DataError(f"{where}/{MEAN} is {mean!r} but its three seeds average {average!r}: inconsistent "
                            f"seeds; {_REDOWNLOAD}")
    return Seeds(seeds, mean)


def _choose_seeds(records: Mapping[str, Seeds], seeds: str, where: Path) -> tuple[str, list[str]]:
    """(mode, replicate labels) for ``records`` (name -> seeds): ``replicates`` (every per-seed value; every
    record needs the same two or more labels), ``mean`` (the three-seed mean) or ``seed`` (the one seed
    asked for). ``auto`` takes the first of these that every record supports. Bare numbers take no part."""
    seeded = {name: s for name, s in records.items() if not s.bare}
    if not seeded:
        raise DataError(f"{where}: no metric has seed keys ('1', {MEAN!r}); {_REDOWNLOAD}")
    if seeds == "auto":
        if all(len(s.per_seed) >= 2 for s in seeded.values()):
            seeds = "replicates"
        elif all(s.mean is not None for s in seeded.values()):
            seeds = "mean"
        else:
            labels = {s.per_seed[0][0] for s in seeded.values() if len(s.per_seed) == 1}
            if len(labels) != 1 or any(len(s.per_seed) != 1 for s in seeded.values()):
                raise DataError(f"{where}: the metrics have neither several seeds each, nor a {MEAN!r} each, nor "
                                f"one common seed: inconsistent seeds; {_REDOWNLOAD}")
            seeds = labels.pop()
    if seeds == "replicates":
        (first, one), *_ = seeded.items()
        labels = [label for label, _ in one.per_seed]
        for name, s in seeded.items():
            other = [label for label, _ in s.per_seed]
            if other != labels or len(other) < 2:
                raise DataError(f"{where}: {name} has seeds {other}, {first} has {labels}: inconsistent seeds "
                                "(replicates need the same two or more everywhere); import_nas_robbench with "
                                "seeds='mean' or one seed")
        return "replicates", labels
    if seeds == "mean":
        missing = next((name for name, s in seeded.items() if s.mean is None), None)
        if missing is not None:
            raise DataError(f"{where}: {missing} has no {MEAN!r}; import_nas_robbench one seed instead (seeds='1')")
        return "mean", [MEAN]
    missing = next((name for name, s in seeded.items() if seeds not in dict(s.per_seed)), None)
    if missing is not None:
        raise DataError(f"{where}: {missing} has no seed {seeds!r}; import_nas_robbench with seeds='auto' or another "
                        "seed")
    return "seed", [seeds]


def _seed_values(s: Seeds, mode: str, labels: list[str]) -> list[float]:
    """The value of each replicate (``labels``) of one metric under ``mode``; a bare number is its one value."""
    if s.bare:
        return [s.per_seed[0][1]]
    if mode == "mean" and s.mean is not None:  # _choose_seeds checked that every record has its mean
        return [s.mean]
    per_seed = dict(s.per_seed)
    return [per_seed[label] for label in labels]


# --- reading ------------------------------------------------------------------------------------


def _table(root: Path, dataset: str | None) -> tuple[str, dict[str, Any], Path]:
    path = root / ALL_FILE
    if not path.is_file():
        raise DataError(f"{root} has no {ALL_FILE}; download it from the NAS-RobBench-201 release into {root}")
    data = read_json(path, _REDOWNLOAD)
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise DataError(f"{path} is not {{dataset: {{uid: {{metric: ...}}}}}}; {_REDOWNLOAD}")
    names = ", ".join(sorted(data)) or "none"
    if dataset is None:
        if len(data) != 1:
            raise DataError(f"{path} holds {len(data)} datasets ({names}); choose one with --source-dataset")
        dataset = next(iter(data))
    elif dataset not in data:
        raise DataError(f"{path} has no dataset {dataset!r}; it has: {names}")
    if not data[dataset]:
        raise DataError(f"{path}: dataset {dataset!r} has no architectures; {_REDOWNLOAD}")
    return dataset, data[dataset], path


def _uids(table: Mapping[str, Any], ids: Mapping[int, int], path: Path) -> dict[str, int]:
    """uid text -> NAS-Bench-201 representative id; every uid a representative of meta.json, one per class."""
    out: dict[str, int] = {}
    classes: dict[str, str] = {}
    for text in table:
        if not (_is_number(text) and int(text) in ids):
            raise DataError(f"{path}: uid {text!r} is not a NAS-Bench-201 cell of {META_FILE} (an id 0..15624); "
                            f"{_REDOWNLOAD}")
        if ids[int(text)] != int(text):
            raise DataError(f"{path}: uid {text} has values but {META_FILE} maps it to its isomorph "
                            f"{ids[int(text)]}; only representatives carry values ({_REDOWNLOAD})")
        ident = representative(int(text))
        twin = classes.setdefault(unique_key(arch_str(ident)), text)
        if twin != text:
            raise DataError(f"{path}: uids {twin} and {text} are the same NAS-Bench-201 cell; {_REDOWNLOAD}")
        out[text] = ident
    return out


def _metrics(table: Mapping[str, Any], path: Path) -> list[str]:
    """The metric names, the same for every uid (a uid with other metrics is an incomplete file)."""
    first = next(iter(table))
    names = table[first]
    if not isinstance(names, dict) or not names:
        raise DataError(f"{path}: uid {first} holds no metrics; {_REDOWNLOAD}")
    for uid, metrics in table.items():
        if not isinstance(metrics, dict) or set(metrics) != set(names):
            differ = sorted(set(metrics) ^ set(names)) if isinstance(metrics, dict) else [type(metrics).__name__]
            raise DataError(f"{path}: uids {first} and {uid} differ in {differ[:3]}; every cell needs the same "
                            f"metrics ({_REDOWNLOAD})")
    return list(names)


def _chosen(metrics: list[Metric], split: str | None, path: Path) -> tuple[str, list[Metric]]:
    """The split (None: ``test`` when present, else ``val``) and its metrics, one per (key, radius), clean among
    them. Bare metrics carry no split: the authors evaluate on the val images only, so they go with ``val``."""
    present = sorted({m.split for m in metrics if m.split in SPLITS})
    if split is None:
        split = "test" if "test" in present else "val"
    elif split not in present:
        raise DataError(f"{path} has no {split!r} metrics; it has: {', '.join(present) or 'none'}")
    chosen = [m for m in metrics if m.split == split or (m.split is None and split == "val")]
    places: dict[tuple[str, float | None], str] = {}
    for m in chosen:
        twin = places.setdefault((m.key, m.eps), m.name)
        if twin != m.name:
            raise DataError(f"{path}: metrics {twin!r} and {m.name!r} both measure {m.key} at {m.eps}/255; "
                            f"{_REDOWNLOAD}")
    if ("clean", None) not in places:
        raise DataError(f"{path} has no {split}_acc (clean accuracy); {_REDOWNLOAD}")
    return split, chosen


def _columns(metrics: list[Metric]) -> dict[str, list[Metric]]:
    """Result key -> its metrics by radius: ``clean`` first, then the attacks in ATTACK_KEYS's order."""
    order = ["clean", *ATTACK_KEYS.values()]
    out: dict[str, list[Metric]] = {}
    for m in sorted(metrics, key=lambda m: (order.index(m.key), m.eps or 0.0)):
        out.setdefault(m.key, []).append(m)
    return out


def read_nas_robbench(root: str | Path, dataset: str | None = None, split: str | None = None,
                      seeds: str = "auto") -> tuple[str, dict[str, Any], list[ArchResult], dict[str, Any]]:
    """(dataset, axes, runs, description) of a directory in NAS-RobBench-201's layout.

    ``split``: ``val`` or ``test`` (None: ``test`` when the file has it, else ``val``). ``seeds``: ``auto``
    (per-seed replicates when every metric has several seeds, else the three-seed mean, else the one
    seed there is), ``replicates``, ``mean``, or a seed number (``"1"``).
    """
    if split is not None and split not in SPLITS:
        raise InvalidValueError(f"split must be one of {', '.join(SPLITS)} (or None: test if present), not {split!r}")
    if seeds not in SEED_MODES and not _is_number(seeds):
        raise InvalidValueError(f"seeds must be one of {', '.join(SEED_MODES)} or a seed number ('1'), not {seeds!r}")
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root} is not a directory; pass the folder holding {META_FILE} and {ALL_FILE}")
    if not (root / META_FILE).is_file():
        raise DataError(f"{root} has no {META_FILE}; download it with {ALL_FILE} from the NAS-RobBench-201 release")
    ids = meta_ids(read_json(root / META_FILE, f"re-download {META_FILE} from the NAS-RobBench-201 release"), root)
    dataset, table, path = _table(root, dataset)
    uids = _uids(table, ids, path)
    parsed = [parse_metric(name, path) for name in _metrics(table, path)]
    split, chosen = _chosen(parsed, split, path)
    records = {(text, m.name): _read_seeds(table[text][m.name], f"{path}: {dataset}/{text}/{m.name}")
               for text in table for m in chosen}
    for m in chosen:  # a metric is a bare number in every cell or in none
        kinds = {records[(text, m.name)].bare for text in table}
        if len(kinds) != 1:
            raise DataError(f"{path}: {dataset} {m.name} is a bare number in some cells and has seeds in others: "
                            f"inconsistent seeds; {_REDOWNLOAD}")
    mode, labels = _choose_seeds({f"{dataset}/{t}/{n}": s for (t, n), s in records.items()}, seeds, path)
    first = next(iter(table))
    # a bare number has no seed: among per-seed replicates it has no place
    kept = [m for m in chosen if not (mode == "replicates" and records[(first, m.name)].bare)]
    columns = _columns(kept)
    runs = []
    for text, ident in uids.items():
        arch = arch_str(ident)
        values = {m.name: _seed_values(records[(text, m.name)], mode, labels) for m in kept}
        for r, label in enumerate(labels):
            measures = {(key, "accuracy"): np.asarray(values[ms[0].name][r] if key == "clean" else
                                                      [values[m.name][r] for m in ms])
                        for key, ms in columns.items()}
            runs.append(ArchResult(key=unique_key(arch), arch=arch, ident=ident, replicate=r,
                                   seed=int(label) if _is_number(label) else None, measures=measures,
                                   info={"source": LAYOUT, "uid": int(text), "seed": label}))
    axes = {key: {"kind": "clean", "axis": []} if key == "clean" else
            {"kind": "attack", "axis": [radius_label(m.eps) for m in ms], "norm": key.split("@")[-1]}
            for key, ms in columns.items()}
    description: dict[str, Any] = {"split": split, "replicates": len(labels),
                                   "seeds": {"mode": mode, "labels": labels, "what": _SEED_TEXT[mode]},
                                   "metrics": sorted(m.name for m in kept),
                                   "left_out": sorted(m.name for m in parsed if m not in kept)}
    assumed = [f"{m.name}: {m.key} at {m.eps:g}/255 on the val images (its name records neither)"
               for m in kept if m.split is None]
    if assumed:
        description["assumed"] = assumed
    return dataset, axes, runs, description


def import_nas_robbench(root: str | Path, out: str | Path, dataset: str | None = None, split: str | None = None,
                        seeds: str = "auto") -> Path:
    """Read ``root`` (NAS-RobBench-201's layout) into a new benchmark file ``out``, all or nothing: every check
    runs before anything is written, and the file appears only when complete."""
    out = Path(out)
    if out.exists():
        raise InvalidValueError(f"{out} already exists; choose another --out or delete it")
    dataset, axes, runs, description = read_nas_robbench(root, dataset, split, seeds)
    meta = {"space": "nb201", "dataset": dataset, "axes": axes, "layout": LAYOUT,
            "source": str(Path(root).resolve()), "nas_robbench": description,
            "replicates": description["replicates"]}
    with atomic_path(out) as tmp:
        with BenchmarkFile(tmp, readonly=False) as bench:
            bench.set_meta(meta)
            bench.add_many(runs)
            bench.pack()
            bench.checkpoint()
    return out
