"""``robnas train``: train one model (standard or PGD adversarial training) with per-epoch checkpoints."""

from __future__ import annotations

from pathlib import Path

import robnas.distributed as distributed
from robnas.pipeline.config import RunConfig, written_config
from robnas.data.prepare import prepare_data
from robnas.device import resolve_device
from robnas.errors import InvalidValueError
from robnas.pipeline.models import build_model, label_of, model_train_config, tune_threads, validate_models
from robnas.store.run_dir import RunDir
from robnas.train import train_model
from robnas.train.trainer import clean_accuracy


def run(cfg: RunConfig) -> Path:
    """Train ``cfg.models[0]``; returns the checkpoint directory.

    Under ``torchrun`` every rank runs this (data-parallel training, :mod:`robnas.distributed`);
    everything is validated on every rank before rank 0 creates the run directory.
    """
    if len(cfg.models) != 1:
        raise InvalidValueError("robnas train trains one model; give exactly one --model (or one [[models]])")
    mc = cfg.models[0]
    world, device = distributed.setup(resolve_device(cfg.device))
    data = prepare_data(cfg.data, device, cfg.seed)
    validate_models(cfg.models, data.dataset, cfg.train)
    train_cfg = model_train_config(cfg.train, mc)
    distributed.check_batch_size(train_cfg.batch_size, "train.batch_size", world)

    run_dir = RunDir.create(cfg.out, cfg.name, "train", quiet=cfg.quiet)
    run_dir.write_config(written_config(cfg))
    run_dir.log(f"training {mc.name} on {data.dataset.name} ({len(data.train)} points) on {device}"
                + (f" x {world.size} processes" if world.enabled else ""))
    model = build_model(mc, data.dataset, cfg.seed)
    tune_threads(model, data.dataset, cfg)
    result = train_model(model, data.train, data.val, train_cfg, run_dir, seed=cfg.seed, resume=cfg.resume,
                         quiet=cfg.quiet, extra={"dataset": data.dataset.name, "label": label_of(mc)})
    if not world.is_main:
        return run_dir.checkpoints
    acc = clean_accuracy(result.model, data.dataset.test)
    run_dir.log(f"test accuracy {100 * acc:.2f}% after {len(result.history)} epochs ({result.seconds:.1f}s)")
    return run_dir.checkpoints
