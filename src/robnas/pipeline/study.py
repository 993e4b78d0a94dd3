"""The robustness study of Devaguptapu et al. as a job: train each model, attack it, report.

Every name (dataset, models, attacks) is validated before the run directory is created, so bad
input leaves nothing behind. Each model's finished evaluation is stored atomically in its own
sub-directory, so a resumed run skips finished models and resumes an unfinished one mid-training.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from robnas.config import config_from_dict, config_to_dict
from robnas.config.schema import DataConfig, ModelConfig, RunConfig, TrainConfig
from robnas.data import Dataset, Split, load_dataset, split_train_val
from robnas.device import resolve_device
from robnas.evaluation import evaluate, protocol_for
from robnas.evaluation.landscape import check_landscape_args
from robnas.evaluation.record import row_from_json, row_to_json
from robnas.errors import InvalidValueError
from robnas.metrics import count_flops, count_params
from robnas.models import create_model
from robnas.pipeline.landscape_job import model_landscape
from robnas.report import write_report
from robnas.report.run_report import write_run_report
from robnas.report.table import check_baseline
from robnas.store.atomic import write_json_atomic
from robnas.store.run_dir import RunDir
from robnas.threads import apply_threads
from robnas.train import load_model, train_model


@dataclass
class PreparedData:
    dataset: Dataset
    train: Split
    val: Split


def prepare_data(cfg: DataConfig, device: torch.device, seed: int) -> PreparedData:
    """Load the dataset and hold out ``val_size`` training points for checkpoint selection."""
    dataset = load_dataset(cfg.name, root=cfg.root, device=device, train_size=cfg.train_size,
                           test_size=cfg.test_size, seed=seed)
    if cfg.val_size > 0:
        train, val = split_train_val(dataset.train, cfg.val_size, seed)
    else:
        train, val = dataset.train, dataset.test
    return PreparedData(dataset, train, val)


def build_model(mc: ModelConfig, dataset: Dataset, seed: int) -> nn.Module:
    """A freshly initialised model; the seed fixes the initial weights."""
    torch.manual_seed(seed)
    return create_model(mc.name, num_classes=dataset.num_classes, in_channels=dataset.in_channels,
                        mean=dataset.mean, std=dataset.std, **mc.kwargs)


def tune_threads(model: nn.Module, dataset: Dataset, cfg: RunConfig) -> None:
    """One CPU thread for small networks, torch's default for large ones (see robnas.threads)."""
    apply_threads(resolve_device(cfg.device), count_flops(model, (dataset.in_channels, *dataset.image_size)), cfg.threads)


def describe(model: nn.Module, dataset: Dataset) -> dict[str, Any]:
    shape = (dataset.in_channels, *dataset.image_size)
    return {"params": count_params(model), "flops": count_flops(model, shape)}


def validate_models(models: tuple[ModelConfig, ...], dataset: Dataset) -> None:
    """Build each model once on the CPU so unknown names or kwargs fail before anything is written."""
    labels = [m.label or m.name for m in models]
    if len(set(labels)) != len(labels):
        raise InvalidValueError(f"model labels must be unique, got {labels}; set `label` on repeated models")
    for mc in models:
        create_model(mc.name, num_classes=dataset.num_classes, in_channels=dataset.in_channels, **mc.kwargs)
        if mc.train:
            model_train_config(RunConfig(), mc)


def _record_path(run: RunDir, label: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
    return run.results / "records" / f"{safe}.json"


def cached_record(run: RunDir, label: str, resume: bool) -> dict[str, Any] | None:
    """A model's finished evaluation from an earlier attempt of this run (``--resume``)."""
    path = _record_path(run, label)
    if resume and path.exists():
        run.log(f"{label}: already evaluated, reading {path}")
        return row_from_json(json.loads(path.read_text()))
    return None


def attack_and_record(run: RunDir, label: str, model: nn.Module, dataset: Dataset, cfg: RunConfig,
                      **extra: Any) -> dict[str, Any]:
    """Evaluate one model with the [eval] protocol and store its row atomically (the unit of resume)."""
    tune_threads(model, dataset, cfg)
    what = (f"protocol {cfg.eval.protocol}" if cfg.eval.protocol else
            f"{', '.join(cfg.eval.attacks)} at eps {[e.label for e in cfg.eval.eps]}")
    run.log(f"{label}: evaluating ({what}{' + corruptions' if cfg.eval.corruptions else ''})")
    record = evaluate(model, dataset.test, protocol_for(cfg.eval), dataset.num_classes, seed=cfg.seed,
                      batch_size=cfg.eval.batch_size, quiet=cfg.quiet, reliability=cfg.eval.reliability)
    row = {"label": label, "model": model.spec["name"], "kwargs": model.spec["kwargs"], **extra,
           **describe(model, dataset), "evaluation": record}
    write_json_atomic(_record_path(run, label), row_to_json(row))
    return row


def model_train_config(cfg: RunConfig, mc: ModelConfig) -> TrainConfig:
    """The run's [train] section with this model's own overrides on top (hand-crafted nets want other lrs)."""
    merged = config_to_dict(cfg.train)
    for key, value in mc.train.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return config_from_dict(TrainConfig, merged, prefix=f"models[{mc.label or mc.name}].train.")


def train_one(cfg: RunConfig, mc: ModelConfig, data: PreparedData, run: RunDir, resume: bool) -> nn.Module:
    model = build_model(mc, data.dataset, cfg.seed)
    tune_threads(model, data.dataset, cfg)
    result = train_model(model, data.train, data.val, model_train_config(cfg, mc), run, seed=cfg.seed, resume=resume,
                         quiet=cfg.quiet, extra={"dataset": data.dataset.name, "label": mc.label or mc.name})
    return result.model


def describe_training(cfg: RunConfig, models: tuple[ModelConfig, ...]) -> str:
    """One line for the report: how every model of the run was trained."""
    t, adv = cfg.train, cfg.train.adversarial
    how = (f"PGD-{adv.steps} adversarial training (eps {adv.eps.label}, step {adv.alpha.label})"
           if adv.enabled else "standard training")
    text = f"{how}, {t.epochs} epochs, batch {t.batch_size}, SGD lr {t.lr:g} cosine"
    overridden = [m.label or m.name for m in models if m.train]
    return text + (f" (own [train] overrides: {', '.join(overridden)})" if overridden else "")


def run_study(cfg: RunConfig, resume: bool = False) -> RunDir:
    """``robnas run``: search (when ``[searched]`` is enabled), train and evaluate the searched architecture and
    every model of ``cfg`` with the same budget, and write the report; returns the run directory."""
    from robnas.pipeline.search_stage import check_search_stage, run_search_stage, searched_model, searches

    protocol_for(cfg.eval)  # validates the [eval] section before anything is written
    if cfg.landscape.enabled:
        check_landscape_args(cfg.landscape.points, cfg.landscape.eps_range, cfg.landscape.resolution)
    device = resolve_device(cfg.device)
    data = prepare_data(cfg.data, device, cfg.seed)
    example = (check_search_stage(cfg, replace(data.dataset, train=data.train)),) if searches(cfg) else ()
    validate_models(example + cfg.models, data.dataset)
    check_baseline(cfg.eval.baseline, [m.label or m.name for m in example + cfg.models])

    run = RunDir.create(cfg.out, cfg.name, "run", quiet=cfg.quiet)
    run.write_config(config_to_dict(cfg))
    run.log(f"run directory {run.path} on {device}; dataset {data.dataset.name}: "
            f"{len(data.train)} train / {len(data.val)} val / {len(data.dataset.test)} test")
    search: dict[str, Any] | None = None
    models = cfg.models
    if searches(cfg):
        # The search sees the training points only (it halves them into weight and architecture data).
        search = run_search_stage(cfg, run, replace(data.dataset, train=data.train), resume)
        models = (searched_model(cfg, search["genotype"]),) + models
    rows: list[dict[str, Any]] = []
    for mc in models:
        label = mc.label or mc.name
        record = cached_record(run, label, resume)
        if record is None:
            child = run.child(label)
            run.log(f"{label}: training {mc.name} {mc.kwargs or ''}")
            started = time.perf_counter()
            model = train_one(cfg, mc, data, child, resume)
            extra: dict[str, Any] = {"train_seconds": time.perf_counter() - started,
                                     "checkpoint": str(child.checkpoints / "last.pt")}
            if cfg.landscape.enabled:
                run.log(f"{label}: input loss landscape over {cfg.landscape.points} test points")
                extra["landscape"] = model_landscape(model, data.dataset, cfg.landscape, cfg.seed)
            record = attack_and_record(run, label, model, data.dataset, cfg, **extra)
        rows.append(record)
    meta = {"dataset": data.dataset.name, "norm": cfg.eval.norm, "seed": cfg.seed,
            "training": describe_training(cfg, models)}
    for path in write_run_report(run.results, rows, meta, search=search, baseline=cfg.eval.baseline):
        run.log(f"wrote {path}")
    return run


def gather_models(cfg: RunConfig, checkpoints: list[str], models: tuple[ModelConfig, ...] = ()
                  ) -> tuple[Dataset, list[tuple[str, nn.Module]]]:
    """Saved models (checkpoints) and freshly initialised registered models, with unique labels, and the
    dataset they are evaluated on (the checkpoints' own dataset when they record one)."""
    device = resolve_device(cfg.device)
    loaded = [load_model(path, device) for path in checkpoints]  # corrupt files fail before any output
    dataset_name = cfg.data.name
    if loaded and "dataset" in loaded[0][1]:
        dataset_name = loaded[0][1]["dataset"]
    data = load_dataset(dataset_name, root=cfg.data.root, device=device, train_size=cfg.data.train_size,
                        test_size=cfg.data.test_size, seed=cfg.seed)
    entries: list[tuple[str, nn.Module]] = []
    for i, (path, (model, payload)) in enumerate(zip(checkpoints, loaded)):
        label = payload.get("label") or Path(path).stem
        taken = [name for name, _ in entries]
        entries.append((label if label not in taken else f"{label}#{i + 1}", model))
    if models:
        validate_models(models, data)
        for mc in models:
            entries.append((mc.label or mc.name, build_model(mc, data, cfg.seed).to(device)))
    return data, entries


def evaluate_checkpoints(cfg: RunConfig, checkpoints: list[str], models: tuple[ModelConfig, ...] = (),
                         resume: bool = False) -> RunDir:
    """``robnas eval``: attack saved models (checkpoints) and freshly initialised registered models."""
    protocol_for(cfg.eval)  # validates the [eval] section before anything is written
    data, entries = gather_models(cfg, checkpoints, models)
    check_baseline(cfg.eval.baseline, [label for label, _ in entries])

    run = RunDir.create(cfg.out, cfg.name, "eval", quiet=cfg.quiet)
    run.write_config({**config_to_dict(cfg), "checkpoints": list(checkpoints)})
    rows: list[dict[str, Any]] = []
    for label, model in entries:
        rows.append(cached_record(run, label, resume) or attack_and_record(run, label, model, data, cfg))
    meta = {"dataset": data.name, "norm": cfg.eval.norm, "seed": cfg.seed}
    for path in write_report(run.results, rows, meta, baseline=cfg.eval.baseline):
        run.log(f"wrote {path}")
    return run


def run_transfer(cfg: RunConfig, checkpoints: list[str], models: tuple[ModelConfig, ...], attack_name: str) -> RunDir:
    """``robnas transfer``: the source x target matrix of AdvRush Table 2 (first eps of the config)."""
    from robnas.attacks import create_attack
    from robnas.evaluation import SuiteSettings
    from robnas.evaluation.transfer import transfer_matrix
    from robnas.report.transfer_report import write_transfer_report

    source = SuiteSettings.of(cfg.eval).threat_model(attack_name, (cfg.eval.eps[0],))
    params = {**source.parameters(cfg.eval.eps[0], cfg.seed), "early_stop": False}
    attack = create_attack(source.attack, **params)
    data, entries = gather_models(cfg, checkpoints, models)
    if len(entries) < 2:
        raise InvalidValueError("robnas transfer needs at least two models (--checkpoint or --model)")
    run = RunDir.create(cfg.out, cfg.name, "transfer", quiet=cfg.quiet)
    run.write_config({**config_to_dict(cfg), "checkpoints": list(checkpoints), "attack": attack_name})
    run.log(f"transfer {attack_name} {params} between {[label for label, _ in entries]}")
    result = transfer_matrix(entries, data.test, attack, batch_size=cfg.eval.batch_size, quiet=cfg.quiet)
    for path in write_transfer_report(run.results, result, {"dataset": data.name, "seed": cfg.seed}):
        run.log(f"wrote {path}")
    return run
