"""``robnas run``: the robustness study of Devaguptapu et al. as one job (the README's main job).

Search first when ``[searched]`` is enabled (the derived architecture becomes one more row), train
every model with the same budget, attack it, and write the report; with ``[ensemble]`` enabled, also
the random-cell ensemble experiment (:mod:`robnas.pipeline.ensemble`: its networks become rows, its
Table 6 ``results/ensemble.md``). Every name (dataset, models,
attacks, search settings) is validated before the run directory is created. Each model's finished
evaluation is stored atomically, so a resumed run skips finished models and resumes an unfinished
one mid-training.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from torch import nn

from robnas.pipeline.config import ModelConfig, RunConfig, written_config
from robnas.data.prepare import PreparedData, prepare_data
from robnas.device import resolve_device
from robnas.errors import InvalidValueError
from robnas.evaluation.landscape import check_landscape_args
from robnas.evaluation import protocol_for
from robnas.pipeline.landscape import model_landscape
from robnas.pipeline.models import build_model, label_of, model_train_config, tune_threads, validate_models
from robnas.pipeline.records import attack_and_record, cached_record
from robnas.pipeline.search_stage import check_search_stage, run_search_stage, searched_model, searches
from robnas.report.run_report import write_run_report
from robnas.report.table import check_baseline
from robnas.store.run_dir import RunDir
from robnas.train import train_model


def train_one(cfg: RunConfig, mc: ModelConfig, data: PreparedData, run: RunDir) -> nn.Module:
    model = build_model(mc, data.dataset, cfg.seed)
    tune_threads(model, data.dataset, cfg)
    result = train_model(model, data.train, data.val, model_train_config(cfg.train, mc), run, seed=cfg.seed,
                         resume=cfg.resume, quiet=cfg.quiet,
                         extra={"dataset": data.dataset.name, "label": label_of(mc)})
    return result.model


def describe_training(cfg: RunConfig, models: tuple[ModelConfig, ...]) -> str:
    """One line for the report: how every model of the run was trained."""
    t, adv = cfg.train, cfg.train.adversarial
    how = (f"PGD-{adv.steps} adversarial training (eps {adv.eps.label}, step {adv.alpha.label})"
           if adv.enabled else "standard training")
    text = f"{how}, {t.epochs} epochs, batch {t.batch_size}, SGD lr {t.lr:g} cosine"
    overridden = [label_of(m) for m in models if m.train]
    return text + (f" (own [train] overrides: {', '.join(overridden)})" if overridden else "")


def run(cfg: RunConfig) -> Path:
    """Search (when enabled), train and evaluate every model; returns the results directory."""
    protocol = protocol_for(cfg.eval)  # validates the [eval] section before anything is written
    if cfg.landscape.enabled:
        check_landscape_args(cfg.landscape.points, cfg.landscape.eps_range, cfg.landscape.resolution)
    device = resolve_device(cfg.device)
    data = prepare_data(cfg.data, device, cfg.seed)
    example = (check_search_stage(cfg, replace(data.dataset, train=data.train)),) if searches(cfg) else ()
    if not example and not cfg.models and not cfg.ensemble.enabled:
        raise InvalidValueError("robnas run has no model to train: add [[models]] (or enable [searched] or "
                                "[ensemble]) in the config (robnas list configs), e.g. --config digits")
    validate_models(example + cfg.models, data.dataset, cfg.train, protocol)
    labels = [label_of(m) for m in example + cfg.models]
    if cfg.ensemble.enabled:
        from robnas.pipeline.ensemble import check_experiment, experiment_labels

        check_experiment(cfg, data)
        clash = sorted(set(labels) & set(experiment_labels(cfg)))
        if clash:
            raise InvalidValueError(f"[ensemble] networks and [[models]] share the labels {', '.join(clash)}; relabel "
                                    "those models or leave them out of ensemble.published")
        labels += experiment_labels(cfg)
    check_baseline(cfg.eval.baseline, labels)

    run_dir = RunDir.create(cfg.out, cfg.name, "run", quiet=cfg.quiet)
    run_dir.write_config(written_config(cfg))
    run_dir.log(f"run directory {run_dir.path} on {device}; dataset {data.dataset.name}: "
                f"{len(data.train)} train / {len(data.val)} val / {len(data.dataset.test)} test")
    search: dict[str, Any] | None = None
    models = cfg.models
    if searches(cfg):
        # The search sees the training points only (it halves them into weight and architecture data).
        search = run_search_stage(cfg, run_dir, replace(data.dataset, train=data.train))
        models = (searched_model(cfg, search["genotype"]),) + models
    rows: list[dict[str, Any]] = []
    for mc in models:
        label = label_of(mc)
        record = cached_record(run_dir, label, cfg.resume)
        if record is None:
            child = run_dir.child(label)
            run_dir.log(f"{label}: training {mc.name} {mc.kwargs or ''}")
            started = time.perf_counter()
            model = train_one(cfg, mc, data, child)
            extra: dict[str, Any] = {"train_seconds": time.perf_counter() - started,
                                     "checkpoint": str(child.checkpoints / "last.pt")}
            if cfg.landscape.enabled:
                run_dir.log(f"{label}: input loss landscape over {cfg.landscape.points} test points")
                extra["landscape"] = model_landscape(model, data.dataset, cfg.landscape, cfg.seed)
            record = attack_and_record(run_dir, label, model, data.dataset, cfg, **extra)
        rows.append(record)
    if cfg.ensemble.enabled:
        from robnas.pipeline.ensemble import run_experiment

        run_dir.log("ensemble: random-cell ensembles next to single random and published cells ([ensemble])")
        ensemble_rows, table = run_experiment(cfg, run_dir, data)
        rows += ensemble_rows
        run_dir.log(f"wrote {table}")
    meta = {"dataset": data.dataset.name, "norm": cfg.eval.norm, "seed": cfg.seed,
            "training": describe_training(cfg, models)}
    for path in write_run_report(run_dir.results, rows, meta, search=search, baseline=cfg.eval.baseline):
        run_dir.log(f"wrote {path}")
    return run_dir.results
