"""Pre-generated adversarial sets (RoCo-NAS, after Kotyan & Vargas' dual L0 / Linf assessment).

A set is built once from several source models x attacks x thresholds and then scores any model
with a single forward pass over it: RoCo-NAS uses the error on it as the robustness objective of
a search. Only *successful* examples are kept (the cells of RoCo-NAS Table I count them), after
rounding to 8-bit images, as an adversary would deliver them; an example that rounding repairs is
dropped. Thresholds are pixels for L0 attacks and 1/255 units for Linf attacks.

On disk a set is a directory: ``data.npz`` (uint8 images, labels, and the cell index of every
example; read with ``allow_pickle=False``) and ``manifest.json`` (format version, dataset,
sources, attacks, thresholds, counts per cell and the SHA-256 of ``data.npz``). The directory is
written under a temporary name and renamed, so an interrupted build leaves no half set behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from robnas.attacks import ATTACKS, create_attack
from robnas.data import Split, iterate_batches
from robnas.errors import DataError, InvalidValueError
from robnas.rng import make_generator

FORMAT = "robnas-advset"
VERSION = 1


@dataclass(frozen=True)
class AdvSet:
    images: torch.Tensor      # uint8 [N, C, H, W]
    labels: torch.Tensor      # int64 [N]
    cell: torch.Tensor        # int64 [N]: index into manifest["cells"]
    manifest: dict[str, Any]


def _threshold_eps(attack: str, threshold: float) -> float:
    """Pixels for L0 attacks, 1/255 units otherwise."""
    return float(threshold) if ATTACKS.get(attack).norms == ("L0",) else threshold / 255


def build_advset(sources: list[tuple[str, nn.Module]], split: Split, attacks: list[str],
                 thresholds: list[float], dataset: str, seed: int = 0, batch_size: int = 256,
                 attack_params: dict[str, dict[str, Any]] | None = None) -> AdvSet:
    """Successful examples of every (source, attack, threshold) cell on ``split``."""
    if not sources or not attacks or not thresholds:
        raise InvalidValueError("an adversarial set needs at least one source model, attack and threshold")
    for threshold in thresholds:
        if threshold <= 0:
            raise InvalidValueError(f"thresholds must be > 0, got {threshold}; e.g. 1,3,5,10")
    params = attack_params or {}
    made = {name: [create_attack(name, eps=_threshold_eps(name, t), seed=seed, **params.get(name, {}))
                   for t in thresholds] for name in attacks}  # bad names or parameters fail before any work
    images, labels, cells, manifest_cells = [], [], [], []
    for source_label, model in sources:
        model.eval()
        for name in attacks:
            for threshold, attack in zip(thresholds, made[name]):
                gen = make_generator(seed, split.device)
                kept = 0
                for x, y in iterate_batches(split, batch_size):
                    adv = (attack(model, x, y, generator=gen) * 255).round().to(torch.uint8)
                    with torch.no_grad():
                        fooled = model(adv.float() / 255).argmax(1) != y
                    fooled &= _clean_correct(model, x, y)
                    images.append(adv[fooled].cpu())
                    labels.append(y[fooled].cpu())
                    cells.append(torch.full((int(fooled.sum()),), len(manifest_cells), dtype=torch.long))
                    kept += int(fooled.sum())
                manifest_cells.append({"source": source_label, "attack": name, "threshold": threshold, "count": kept})
    manifest = {"format": FORMAT, "version": VERSION, "dataset": dataset, "n_clean": len(split),
                "image_shape": list(split.images.shape[1:]), "sources": [label for label, _ in sources],
                "attacks": list(attacks), "thresholds": list(thresholds),
                "threshold_units": {name: "pixels" if ATTACKS.get(name).norms == ("L0",) else "1/255" for name in attacks},
                "cells": manifest_cells, "total": sum(c["count"] for c in manifest_cells), "seed": seed}
    shape = (0, *split.images.shape[1:])
    return AdvSet(torch.cat(images) if images else torch.zeros(shape, dtype=torch.uint8),
                  torch.cat(labels) if labels else torch.zeros(0, dtype=torch.long),
                  torch.cat(cells) if cells else torch.zeros(0, dtype=torch.long), manifest)


@torch.no_grad()
def _clean_correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # A point the source already misclassifies is not an adversarial example of it.
    return model(x).argmax(1) == y


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_advset(advset: AdvSet, path: str | Path) -> Path:
    """Write ``path/`` (data.npz + manifest.json) atomically; refuses to overwrite an existing set."""
    target = Path(path)
    if target.exists():
        raise InvalidValueError(f"{target} already exists; choose another --output or delete it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        np.savez_compressed(tmp / "data.npz", images=advset.images.numpy(), labels=advset.labels.numpy(),
                            cell=advset.cell.numpy())
        manifest = {**advset.manifest, "sha256": _sha256(tmp / "data.npz")}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def load_advset(path: str | Path, device: torch.device | str = "cpu") -> AdvSet:
    """Read a set written by :func:`save_advset`, checking its format, version and checksum."""
    folder = Path(path)
    manifest_path, data_path = folder / "manifest.json", folder / "data.npz"
    if not manifest_path.is_file() or not data_path.is_file():
        raise DataError(f"{folder} is not an adversarial set: expected manifest.json and data.npz "
                        "(build one with `robnas advset build`)")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{manifest_path} is not valid JSON ({exc}); rebuild the set") from exc
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise DataError(f"{folder}: format {manifest.get('format')!r} version {manifest.get('version')!r} is not "
                        f"{FORMAT} version {VERSION}; rebuild it with this robnas")
    if _sha256(data_path) != manifest.get("sha256"):
        raise DataError(f"{data_path} does not match the checksum in its manifest (corrupt or edited); rebuild the set")
    with np.load(data_path, allow_pickle=False) as data:
        images, labels, cell = (torch.from_numpy(data[k].copy()) for k in ("images", "labels", "cell"))
    return AdvSet(images.to(device), labels.to(device), cell.to(device), manifest)


@torch.no_grad()
def evaluate_advset(model: nn.Module, advset: AdvSet, batch_size: int = 512) -> dict[str, Any]:
    """Accuracy and error (percent) of ``model`` on the set, overall and per cell."""
    model.eval()
    device = advset.images.device
    correct = torch.cat([model(advset.images[i:i + batch_size].float() / 255).argmax(1) == advset.labels[i:i + batch_size]
                         for i in range(0, advset.images.shape[0], batch_size)]) if len(advset.labels) else \
        torch.zeros(0, dtype=torch.bool, device=device)
    cells = []
    for index, cell in enumerate(advset.manifest["cells"]):
        mask = advset.cell == index
        n = int(mask.sum())
        cells.append({**cell, "accuracy": 100.0 * int(correct[mask].sum()) / n if n else None})
    n = len(advset.labels)
    accuracy = 100.0 * int(correct.sum()) / n if n else 0.0
    return {"n": n, "accuracy": accuracy, "error": 100.0 - accuracy if n else 0.0, "cells": cells}


def advset_table(manifest: dict[str, Any]) -> str:
    """Counts of successful examples per source, attack and threshold: the layout of RoCo-NAS Table I."""
    columns = [(a, t) for a in manifest["attacks"] for t in manifest["thresholds"]]
    count = {(c["source"], c["attack"], c["threshold"]): c["count"] for c in manifest["cells"]}
    head = ["Model", *(f"{a} {t:g}" for a, t in columns), "Total"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for source in manifest["sources"]:
        row = [count[(source, a, t)] for a, t in columns]
        lines.append(f"| {source} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    totals = [sum(count[(s, a, t)] for s in manifest["sources"]) for a, t in columns]
    lines.append("| Total | " + " | ".join(map(str, totals)) + f" | {sum(totals)} |")
    return "\n".join(lines) + "\n"
