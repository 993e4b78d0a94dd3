"""``robnas run``: the robustness study of Devaguptapu et al. as one job (the README's main job).

Search first when ``[searched]`` is enabled (the derived architecture becomes one more row), train
every model with the same budget, attack it, and write the report; with ``[ensemble]`` enabled, also
the random-cell ensemble experiment (:mod:`robnas.ensembles`: its networks become rows, its Table 6
``results/ensemble.md``). Every name (dataset, models, attacks, search settings) is validated before
the run directory is created. Each model's finished evaluation is stored atomically, so a resumed
run skips finished models and resumes an unfinished one mid-training.

The search: ``[search]`` names the space and the differentiable method (darts, advrush, rnas) and
``[search.differentiable]`` its settings; ``[searched]`` says how the derived cell is built and
trained (``kwargs`` such as ``C`` and ``layers``, per-model ``train`` overrides, the row ``label``).
The derived genotype (DARTS space) or arch string (NB201 space) becomes a :class:`ModelConfig` of the
space's network (``darts`` / ``nb201``), so it is trained, attacked and reported exactly like the
baselines, with the same budget. The search writes into the run directory itself
(``checkpoints/search.pt``, one record per epoch in ``metrics.jsonl``, ``results/genotype.txt``,
``cells.png``, ``alphas.png``, ``search.json``); its finished outcome is kept in
``results/search_outcome.json``, so a resumed run that has finished its search reads it back.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from torch import nn

from robnas.data import Dataset
from robnas.data.prepare import PreparedData, prepare_data
from robnas.device import resolve_device
from robnas.ensembles import Experiment, check_experiment, run_experiment
from robnas.errors import InvalidValueError
from robnas.evaluation import protocol_for
from robnas.evaluation.landscape import check_landscape_args, input_loss_landscape
from robnas.evaluation.row_store import evaluate_into, saved_row
from robnas.pipeline.config import ModelConfig, RunConfig, written_config
from robnas.pipeline.models import build_model, label_of, model_train_config, tune_threads, validate_models
from robnas.report.ensemble_report import write_ensemble_report
from robnas.report.run_report import write_run_report
from robnas.report.table import check_baseline
from robnas.search.differentiable.methods import METHODS
from robnas.search.differentiable.resumable import check_search, search_in_run, split_halves
from robnas.spaces import get_space
from robnas.store.atomic import write_json_atomic
from robnas.store.run_dir import RunDir
from robnas.train import train_model

SEARCH_RECORD = "search_outcome.json"  # the search itself writes search.json (its summary)


# --- the search stage ---------------------------------------------------------------------------


def searched_label(cfg: RunConfig) -> str:
    return cfg.searched.label or f"searched ({cfg.search.method.lower()})"


def searched_model(cfg: RunConfig, cell: str) -> ModelConfig:
    """The derived architecture as a model entry of the run (trained like every other row)."""
    space = get_space(cfg.search.space)
    return ModelConfig(name=space.model_name, kwargs={space.arch_kwarg: cell, **cfg.searched.kwargs},
                       label=searched_label(cfg), train=dict(cfg.searched.train))


def check_search_stage(cfg: RunConfig, dataset: Dataset) -> ModelConfig:
    """Validate the search settings before any output exists; returns the searched row built on an example
    cell of the space, for the caller's model validation (sizes, train overrides, unique labels)."""
    s = cfg.search
    if s.method not in METHODS:
        raise InvalidValueError(f"robnas run searches with a differentiable method ({', '.join(METHODS.names())}), got "
                                f"search.method={s.method!r}; discrete methods run with `robnas search`")
    check_search(s.space, s.method, s.differentiable)
    split_halves(dataset.train, s.differentiable, cfg.seed)  # a train_size larger than the split fails here
    space = get_space(s.space)
    if space.arch_kwarg in cfg.searched.kwargs:
        raise InvalidValueError(f"searched.kwargs must not set {space.arch_kwarg!r}: the search derives it")
    # A stand-in architecture of the space validates the [searched] kwargs before the search derives its own.
    return searched_model(cfg, space.example())


def run_search_stage(cfg: RunConfig, run: RunDir, dataset: Dataset) -> dict[str, Any]:
    """The search outcome (space, genotype, seconds, history): computed, or read back on ``--resume``."""
    path = run.results / SEARCH_RECORD
    if cfg.resume and path.exists():
        run.log(f"search: already finished, reading {path}")
        return json.loads(path.read_text())
    s = cfg.search
    run.log(f"search: {s.method} over the {s.space} space")
    outcome = search_in_run(run, dataset, s.space, s.method, s.differentiable, seed=cfg.seed, threads=cfg.threads,
                            resume=cfg.resume, quiet=cfg.quiet)
    record = {**asdict(outcome), "method": s.method, "label": searched_label(cfg)}
    write_json_atomic(path, record)
    run.log(f"search: derived {outcome.genotype} in {outcome.seconds:.1f}s")
    return record


# --- training and evaluating the rows -----------------------------------------------------------


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


def experiment(cfg: RunConfig) -> Experiment:
    """The [ensemble] experiment of the run, with the run's data, training, evaluation, seed, device, threads."""
    return Experiment(cfg.ensemble, cfg.data, cfg.train, cfg.eval, seed=cfg.seed, device=cfg.device,
                      threads=cfg.threads)


def run(cfg: RunConfig) -> Path:
    """Search (when enabled), train and evaluate every model; returns the results directory."""
    protocol = protocol_for(cfg.eval)  # validates the [eval] section before anything is written
    lc = cfg.landscape
    if lc.enabled:
        check_landscape_args(lc.points, lc.eps_range, lc.resolution)
    device = resolve_device(cfg.device)
    data = prepare_data(cfg.data, device, cfg.seed)
    searches = cfg.searched.enabled
    # The search sees the training points only (it halves them into weight and architecture data).
    search_data = replace(data.dataset, train=data.train)
    example = (check_search_stage(cfg, search_data),) if searches else ()
    if not example and not cfg.models and not cfg.ensemble.enabled:
        raise InvalidValueError("robnas run has no model to train: add [[models]] (or enable [searched] or "
                                "[ensemble]) in the config (robnas list configs), e.g. --config digits")
    validate_models(example + cfg.models, data.dataset, cfg.train, protocol)
    labels = [label_of(m) for m in example + cfg.models]
    if cfg.ensemble.enabled:
        ensemble_labels = check_experiment(experiment(cfg), data).labels
        clash = sorted(set(labels) & set(ensemble_labels))
        if clash:
            raise InvalidValueError(f"[ensemble] networks and [[models]] share the labels {', '.join(clash)}; relabel "
                                    "those models or leave them out of ensemble.published")
        labels += ensemble_labels
    check_baseline(cfg.eval.baseline, labels)

    run_dir = RunDir.create(cfg.out, cfg.name, "run", quiet=cfg.quiet)
    run_dir.write_config(written_config(cfg))
    run_dir.log(f"run directory {run_dir.path} on {device}; dataset {data.dataset.name}: "
                f"{len(data.train)} train / {len(data.val)} val / {len(data.dataset.test)} test")
    search: dict[str, Any] | None = None
    models = cfg.models
    if searches:
        search = run_search_stage(cfg, run_dir, search_data)
        models = (searched_model(cfg, search["genotype"]),) + models
    rows: list[dict[str, Any]] = []
    for mc in models:
        label = label_of(mc)
        row = saved_row(run_dir, label, cfg.resume)
        if row is None:
            child = run_dir.child(label)
            run_dir.log(f"{label}: training {mc.name} {mc.kwargs or ''}")
            started = time.perf_counter()
            model = train_one(cfg, mc, data, child)
            extra: dict[str, Any] = {"train_seconds": time.perf_counter() - started,
                                     "checkpoint": str(child.checkpoints / "last.pt")}
            if lc.enabled:
                run_dir.log(f"{label}: input loss landscape over {lc.points} test points")
                extra["landscape"] = input_loss_landscape(
                    model, data.dataset.test, points=lc.points, eps_range=lc.eps_range, resolution=lc.resolution,
                    seed=cfg.seed, per_point=lc.per_point).to_dict()
            row = evaluate_into(run_dir, label, model, data.dataset, cfg.eval, seed=cfg.seed, threads=cfg.threads,
                                quiet=cfg.quiet, **extra)
        rows.append(row)
    if cfg.ensemble.enabled:
        run_dir.log("ensemble: random-cell ensembles next to single random and published cells ([ensemble])")
        exp = experiment(cfg)
        plan, ensemble_rows = run_experiment(exp, run_dir, resume=cfg.resume)
        rows += [ensemble_rows[label] for label in plan.labels]
        run_dir.log(f"wrote {write_ensemble_report(run_dir.results, exp, plan, ensemble_rows, data.dataset.name)}")
    meta = {"dataset": data.dataset.name, "norm": cfg.eval.norm, "seed": cfg.seed,
            "training": describe_training(cfg, models)}
    for path in write_run_report(run_dir.results, rows, meta, search=search, baseline=cfg.eval.baseline):
        run_dir.log(f"wrote {path}")
    return run_dir.results
