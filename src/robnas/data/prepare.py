"""The ``[data]`` settings of a job and the data they describe: the dataset plus a held-out split.

Every job (train, run, search candidates, benchmark builds) loads its data through
:func:`prepare_data`, so the subset, the validation split and the device follow one rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import torch

from robnas.config import config_from_dict
from robnas.data.registry import Dataset, load_dataset
from robnas.data.split import Split, split_train_val
from robnas.device import resolve_device


@dataclass(frozen=True)
class DataConfig:
    name: str = "digits"
    root: str | None = None          # None: the dataset's default location
    train_size: int | None = None    # deterministic subsets; None = the whole split
    test_size: int | None = None
    val_size: int = 0                # held out of train for best-checkpoint selection (0: use the test split)
    resize: int | None = None        # shrink images to resize x resize pixels (area averaging); None = as stored


@dataclass
class PreparedData:
    """A loaded dataset with the split models train on and the split they are validated on."""

    dataset: Dataset
    train: Split
    val: Split


def load_configured(cfg: DataConfig, device: torch.device | str, seed: int) -> Dataset:
    """The dataset of ``cfg`` with its deterministic subsets, on ``device``."""
    return load_dataset(cfg.name, root=cfg.root, device=device, train_size=cfg.train_size,
                        test_size=cfg.test_size, seed=seed, resize=cfg.resize)


def prepare_data(cfg: DataConfig, device: torch.device | str, seed: int) -> PreparedData:
    """Load the dataset and hold out ``val_size`` training points for checkpoint selection."""
    dataset = load_configured(cfg, device, seed)
    if cfg.val_size > 0:
        train, val = split_train_val(dataset.train, cfg.val_size, seed)
    else:
        train, val = dataset.train, dataset.test
    return PreparedData(dataset, train, val)


# Per-process cache of prepared data: a worker that builds many networks loads its data once.
_PREPARED: dict[str, PreparedData] = {}


def cached_prepared_data(data: dict[str, Any], seed: int, device: str) -> PreparedData:
    """The prepared data of a ``[data]`` section given as a plain dict (what workers receive), loaded once
    per process and kept for the next network."""
    cache_key = json.dumps({"data": data, "seed": seed, "device": device}, sort_keys=True, default=str)
    if cache_key not in _PREPARED:
        _PREPARED[cache_key] = prepare_data(config_from_dict(DataConfig, data, prefix="data."), resolve_device(device),
                                            seed)
    return _PREPARED[cache_key]
