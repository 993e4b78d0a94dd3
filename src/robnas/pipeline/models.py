"""The models of a job: built from ``[[models]]`` entries or loaded from checkpoints, validated up front.

Every job validates its models (names, kwargs, per-model ``train`` overrides, unique labels) before
its run directory exists, so bad input leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from robnas.config import config_from_dict, config_to_dict
from robnas.pipeline.config import ModelConfig, RunConfig
from robnas.data import Dataset
from robnas.data.prepare import DataConfig, load_configured
from robnas.device import resolve_device
from robnas.errors import InvalidValueError
from robnas.evaluation import Protocol, check_evaluable
from robnas.metrics import count_flops
from robnas.models import create_model
from robnas.threads import apply_threads
from robnas.train import load_model
from robnas.train.settings import TrainConfig, check_train_config


def label_of(mc: ModelConfig) -> str:
    return mc.label or mc.name


def build_model(mc: ModelConfig, dataset: Dataset, seed: int) -> nn.Module:
    """A freshly initialised model; the seed fixes the initial weights."""
    torch.manual_seed(seed)
    return create_model(mc.name, num_classes=dataset.num_classes, in_channels=dataset.in_channels,
                        mean=dataset.mean, std=dataset.std, **mc.kwargs)


def tune_threads(model: nn.Module, dataset: Dataset, cfg: RunConfig) -> None:
    """One CPU thread for small networks, torch's default for large ones (see robnas.threads)."""
    apply_threads(resolve_device(cfg.device), count_flops(model, (dataset.in_channels, *dataset.image_size)),
                  cfg.threads)


def model_train_config(train: TrainConfig, mc: ModelConfig) -> TrainConfig:
    """The job's [train] section with this model's own overrides on top (hand-crafted nets want other lrs)."""
    merged = config_to_dict(train)
    for key, value in mc.train.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    cfg = config_from_dict(TrainConfig, merged, prefix=f"models[{label_of(mc)}].train.")
    check_train_config(cfg)
    return cfg


def validate_models(models: tuple[ModelConfig, ...], dataset: Dataset, train: TrainConfig | None = None,
                    protocol: Protocol | None = None) -> None:
    """Build each model once on the CPU so unknown names or kwargs fail before anything is written;
    with ``train``, also every model's merged training recipe; with ``protocol``, what the evaluation
    would refuse (a network the certificate cannot bound) -- before training, not after."""
    labels = [label_of(m) for m in models]
    if len(set(labels)) != len(labels):
        raise InvalidValueError(f"model labels must be unique, got {labels}; set `label` on repeated models")
    for mc in models:
        model = create_model(mc.name, num_classes=dataset.num_classes, in_channels=dataset.in_channels, **mc.kwargs)
        if protocol is not None:
            check_evaluable(model, protocol)
        if train is not None:
            model_train_config(train, mc)


def gather_models(cfg: RunConfig, data_cfg: DataConfig | None = None) -> tuple[Dataset, list[tuple[str, nn.Module]]]:
    """``cfg.checkpoints`` (trained) and ``cfg.models`` (freshly initialised), with unique labels, and the
    dataset they are evaluated on: the checkpoints' own dataset when they record one."""
    device = resolve_device(cfg.device)
    loaded = [load_model(path, device) for path in cfg.checkpoints]  # corrupt files fail before any output
    data_cfg = data_cfg or cfg.data
    if loaded and "dataset" in loaded[0][1]:
        data_cfg = DataConfig(**{**config_to_dict(data_cfg), "name": loaded[0][1]["dataset"]})
    data = load_configured(data_cfg, device, cfg.seed)
    entries: list[tuple[str, nn.Module]] = []
    for i, (path, (model, payload)) in enumerate(zip(cfg.checkpoints, loaded)):
        label = payload.get("label") or Path(path).stem
        taken = [name for name, _ in entries]
        entries.append((label if label not in taken else f"{label}#{i + 1}", model))
    if cfg.models:
        validate_models(cfg.models, data)
        for mc in cfg.models:
            entries.append((label_of(mc), build_model(mc, data, cfg.seed).to(device)))
    return data, entries


def require_models(entries: list[Any], command: str, least: int = 1) -> None:
    if len(entries) < least:
        what = "a model" if least == 1 else f"at least {('two', 'three')[least - 2] if least < 4 else least} models"
        raise InvalidValueError(f"robnas {command} needs {what}: --checkpoint PATH (trained) or --model NAME "
                                "(untrained, repeatable)")
