"""Writes small directories in the exact layout of the published NAS-Bench-201 robustness dataset.

Jung et al. distribute ``meta.json`` (every NAS-Bench-201 id with its arch string and the id of its
representative, ``isomorph``, as a string; the attack radii in 1/255 units) and one JSON file per
(key, measure) under ``<dataset>/``, nested ``{dataset: {key: {measure: {rep id: value}}}}``, with
accuracies as fractions. These files are made with the same structure and value types.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from robnas.spaces.nb201 import arch_str, representative

FGSM = [0.1, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 255.0]
OTHER = [0.1, 0.5, 1.0, 2.0, 3.0, 4.0, 8.0]
ATTACKS = {"fgsm@Linf": FGSM, "pgd@Linf": OTHER, "aa_apgd-ce@Linf": OTHER, "aa_square@Linf": OTHER}
CORRUPTIONS = ("gaussian_noise", "fog")
CLASSES = 10


def representative_ids(count: int, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    reps: set[int] = set()
    while len(reps) < count:
        reps.add(representative(rng.randrange(15625)))
    return sorted(reps)


def _values(rng: random.Random, n: int | None, measure: str):
    def one():
        if measure == "cm":
            return [[rng.randrange(20) for _ in range(CLASSES)] for _ in range(CLASSES)]
        return round(rng.random(), 4) if measure == "accuracy" else rng.random()
    return one() if n is None else [one() for _ in range(n)]


def write_meta(root: Path, reps: list[int]) -> None:
    """``root/meta.json`` for the classes of ``reps``: every member id with its arch string and representative
    (NAS-RobBench-201 ships this same file, ``epsilons`` included)."""
    present = set(reps)
    ids = {str(i): {"nb201-string": arch_str(i), "isomorph": str(representative(i))}
           for i in range(15625) if representative(i) in present}
    root.mkdir(parents=True, exist_ok=True)
    (root / "meta.json").write_text(json.dumps({"ids": ids, "epsilons": ATTACKS}))


def write_layout(root: Path, reps: list[int], dataset: str = "cifar10", seed: int = 0,
                 measures: tuple[str, ...] = ("accuracy", "confidence", "cm")) -> dict:
    """The layout for the given representative ids; returns ``{(key, measure): {id: value}}`` as written."""
    rng = random.Random(seed)
    write_meta(root, reps)
    written = {}
    keys = {"clean": None, **{k: len(v) for k, v in ATTACKS.items()}, **{c: 5 for c in CORRUPTIONS}}
    for key, n in keys.items():
        for measure in measures:
            column = {str(i): _values(rng, n, measure) for i in reps}
            written[(key, measure)] = column
            folder = root / dataset
            folder.mkdir(exist_ok=True)
            (folder / f"{key}_{measure}.json").write_text(json.dumps({dataset: {key: {measure: column}}}))
    return written


class AuthorsReader:
    """The read semantics of the authors' helper class, restated (not copied) for the export test:
    meta.json at the root, ``query`` opens ``<root>/<data>/<key>_<measure>.json`` and indexes
    ``[data][key][measure]``; ``get_uid`` returns ``meta["ids"][str(i)]["isomorph"]``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.meta = json.loads((root / "meta.json").read_text())
        self.map_str_to_id = {m["nb201-string"]: k for k, m in self.meta["ids"].items()}
        self.non_isomorph_ids = [i for i, d in self.meta["ids"].items() if d["isomorph"] == i]

    def query(self, data: str, key: str, measure: str) -> dict:
        with open(self.root / data / f"{key}_{measure}.json") as fh:
            return json.load(fh)[data][key][measure]

    def get_uid(self, i: int | str) -> str:
        return self.meta["ids"][str(i)]["isomorph"]
