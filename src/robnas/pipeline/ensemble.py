"""``robnas ensemble``: random-cell ensembles against single random and published cells (Devaguptapu et al. Table 6).

Each of ``runs`` runs samples one DARTS cell per member (seeded), stacks it into a network of the
member's share of the cell budget (``--cells 12,6,2`` of ``total_cells`` 20) and trains it for the
share of ``[train] epochs`` of its cells (the paper's rule: 360/180/60 of 600 epochs, so the ensemble
as a whole gets the budget of one full network); the members are then frozen and the combiner (the
paper's linear model, :mod:`robnas.models.ensemble`) is trained for ``combiner_epochs`` (2). Next to
them: ``runs`` single random networks of ``total_cells`` cells (RANDOM*) and the published cells
(DARTS_V2, P-DARTS, PC-DARTS) with the same cells and the full ``[train]`` budget. Every network
is then attacked with the ``[eval]`` suite -- the ensemble as one network, end to end.

The plan (which cells, how many epochs) is :mod:`robnas.pipeline.ensemble_plan`. Every network trains
in its own directory (``networks/<label>/``) on the execution backends of the discrete search
(``inprocess``, a local process pool, Ray), all at once, and is then attacked there (an ensemble
after training its combiner), one task per network; with ``--resume`` a
network whose training is complete is not trained again and an unfinished one continues from its
last epoch; finished evaluations are read back (``results/records``). Outputs: ``results/ensemble.md``
(Table 6 and the sampled genotypes), ``results/table.md`` / ``results.json`` (every network's row).

The published cells are trained once each (the paper gives single values for them, mean ± std only
for the random rows). The paper does not give the combiner's width (``hidden``) or its learning rate
(``combiner_lr``); they are settings here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from robnas.backends import Backend, create_backend
from robnas.config import config_to_dict
from robnas.data.prepare import PreparedData, cached_prepared_data, prepare_data
from robnas.device import resolve_device
from robnas.errors import InvalidValueError
from robnas.evaluation import protocol_for
from robnas.evaluation.record import row_from_json, row_to_json
from robnas.metrics import count_flops
from robnas.models import create_model
from robnas.models.ensemble import check_cells, load_member_weights
from robnas.pipeline.config import RunConfig, written_config
from robnas.pipeline.ensemble_plan import (
    EnsemblePlan,
    Network,
    Plan,
    check_ensemble,
    combiner_config,
    experiment_labels,
    make_plan,
)
from robnas.pipeline.records import attack_and_record, cached_record
from robnas.report import write_robustness_report
from robnas.report.ensemble_table import Group, ensemble_table
from robnas.search.discrete.evaluators import evaluation_seed
from robnas.store.atomic import write_text_atomic
from robnas.store.run_dir import RunDir
from robnas.threads import thread_limit, worker_threads
from robnas.train import load_model, train_model
from robnas.train.checkpoint import load_checkpoint
from robnas.train.settings import TrainConfig

NETWORKS = "networks"        # <run>/networks/<label>/: one training directory per network


def weights_path(directory: Path, train: TrainConfig) -> Path:
    """The checkpoint a trained network is used from: best.pt when the recipe selects one, else last.pt."""
    best = directory / "checkpoints" / "best.pt"
    return best if train.select_best != "last" and best.exists() else directory / "checkpoints" / "last.pt"


def is_trained(directory: Path) -> bool:
    """Whether the network's last checkpoint is complete (a finished network is never trained again)."""
    last = directory / "checkpoints" / "last.pt"
    return last.exists() and bool(load_checkpoint(last).get("complete"))


@dataclass(frozen=True)
class TrainTask:
    """A network to train in a worker process: strings, numbers and dicts only (picklable for Ray)."""

    network: Network
    directory: str
    data: dict[str, Any]
    train: dict[str, Any]
    seed: int
    device: str
    resume: bool
    threads: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def train_network(task: TrainTask) -> str:
    """Train one network to its directory (in a backend's worker); returns the directory."""
    from robnas.config import config_from_dict

    prepared = cached_prepared_data(task.data, task.seed, task.device)
    dataset = prepared.dataset
    net = task.network
    train_cfg = replace(config_from_dict(TrainConfig, task.train, prefix="train."), epochs=net.epochs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(net.seed)
        model = create_model(net.model, num_classes=dataset.num_classes, in_channels=dataset.in_channels,
                             mean=dataset.mean, std=dataset.std, **net.kwargs)
        shape = (dataset.in_channels, *dataset.image_size)
        with thread_limit(worker_threads(count_flops(model, shape), task.threads)):
            run = RunDir.create(Path(task.directory).parent, Path(task.directory).name, "child", quiet=True)
            train_model(model, prepared.train, prepared.val, train_cfg, run, seed=net.seed, resume=task.resume,
                        quiet=True, extra={**task.extra, "label": net.label})
    return task.directory


def train_networks(cfg: RunConfig, plan: Plan, run_dir: RunDir, dataset_name: str, backend: Backend) -> None:
    """Train every network not yet trained, in parallel on the backend."""
    todo = [n for n in plan.networks if not (cfg.resume and is_trained(run_dir.path / NETWORKS / n.label))]
    skipped = len(plan.networks) - len(todo)
    if skipped:
        run_dir.log(f"{skipped} networks already trained, not trained again")
    if not todo:
        return
    data = config_to_dict(cfg.data)
    train = config_to_dict(cfg.train)
    tasks = [TrainTask(n, str(run_dir.path / NETWORKS / n.label), data, train, cfg.seed, cfg.device, cfg.resume,
                       cfg.threads, {"dataset": dataset_name}) for n in todo]
    run_dir.log(f"training {len(tasks)} networks on {backend.describe()}")
    for index, _ in backend.imap_unordered(train_network, tasks):
        net = todo[index]
        run_dir.log(f"{net.label}: trained {net.model} ({net.kwargs.get('layers')} cells, {net.epochs} epochs)")


def trained(cfg: RunConfig, run_dir: RunDir, net: Network, device: torch.device) -> nn.Module:
    """A trained network read back from its directory."""
    return load_model(weights_path(run_dir.path / NETWORKS / net.label, cfg.train), device)[0]


def combine(cfg: RunConfig, plan: EnsemblePlan, run_dir: RunDir, data: PreparedData) -> nn.Module:
    """The ensemble of the trained members with its combiner trained (members frozen); resumable."""
    device = data.train.images.device
    dataset = data.dataset
    seed = evaluation_seed(cfg.seed, plan.label)
    torch.manual_seed(seed)
    model = create_model("random_ensemble", num_classes=dataset.num_classes, in_channels=dataset.in_channels,
                         mean=dataset.mean, std=dataset.std, **plan.model_kwargs(cfg.ensemble))
    states = []
    for member in plan.members:
        path = weights_path(run_dir.path / NETWORKS / member.label, cfg.train)
        states.append(load_checkpoint(path, device)["model_state"])
    load_member_weights(model, states)
    model.net.members.requires_grad_(False)  # only the combiner trains (the optimiser skips grad-less weights)
    child = RunDir.create(run_dir.path / NETWORKS, plan.label, "child", quiet=True)
    result = train_model(model, data.train, data.val, combiner_config(cfg), child, seed=seed, resume=cfg.resume,
                         quiet=True, extra={"dataset": dataset.name, "label": plan.label})
    result.model.requires_grad_(True)  # as a loaded checkpoint: attacks may differentiate any weight
    return result.model


@dataclass(frozen=True)
class EvalTask:
    """One network to attack in a worker: a trained network, or an ensemble whose combiner trains first."""

    cfg: RunConfig
    run: str
    network: Network | None = None
    ensemble: EnsemblePlan | None = None


def evaluate_network(task: EvalTask) -> dict[str, Any]:
    """Attack one network with [eval] (in a backend's worker); stores and returns its record (JSON form)."""
    cfg = task.cfg
    data = cached_prepared_data(config_to_dict(cfg.data), cfg.seed, cfg.device)
    run_dir = RunDir(task.run, quiet=True)
    with torch.random.fork_rng(devices=[]):
        if task.ensemble is not None:
            ens = task.ensemble
            label, model = ens.label, combine(cfg, ens, run_dir, data)
            extra: dict[str, Any] = {"cells": list(ens.cells),
                                     "genotypes": {m.label: m.kwargs["genotype"] for m in ens.members}}
        else:
            assert task.network is not None
            net = task.network
            label, model = net.label, trained(cfg, run_dir, net, data.train.images.device)
            extra = {"cells": [net.kwargs["layers"]]}
            if "genotype" in net.kwargs:
                extra["genotype"] = net.kwargs["genotype"]
        return row_to_json(attack_and_record(run_dir, label, model, data.dataset, cfg, **extra))


def evaluate_all(cfg: RunConfig, plan: Plan, run_dir: RunDir, backend: Backend) -> dict[str, dict[str, Any]]:
    """Every ensemble (its combiner trained first), single random and published network attacked with
    [eval], in parallel on the backend; finished evaluations of an earlier attempt are read back."""
    rows: dict[str, dict[str, Any]] = {}
    tasks: list[EvalTask] = []
    quiet = replace(cfg, quiet=True)  # workers' progress bars would interleave; the driver logs each result
    for ens in plan.ensembles:
        record = cached_record(run_dir, ens.label, cfg.resume)
        if record is None:
            tasks.append(EvalTask(quiet, str(run_dir.path), ensemble=ens))
        else:
            rows[ens.label] = record
    for net in plan.singles + plan.published:
        record = cached_record(run_dir, net.label, cfg.resume)
        if record is None:
            tasks.append(EvalTask(quiet, str(run_dir.path), network=net))
        else:
            rows[net.label] = record
    if not tasks:
        return rows
    run_dir.log(f"attacking {len(tasks)} networks (each ensemble after training its combiner over its frozen "
                "members; the ensemble is attacked end to end as one network)")
    for _, row in backend.imap_unordered(evaluate_network, tasks):
        record = row_from_json(row)
        clean = record["evaluation"].clean.accuracy
        run_dir.log(f"{record['label']}: evaluated, clean {clean:.2f}%")
        rows[record["label"]] = record
    return rows


def table_groups(cfg: RunConfig, plan: Plan, rows: dict[str, dict[str, Any]]) -> list[Group]:
    """Table 6's lines: each published cell, RANDOM* (the single random runs), ENSEMBLE† (the ensemble runs)."""
    total = str(cfg.ensemble.total_cells)
    groups = [Group(net.label, total, (rows[net.label],)) for net in plan.published]
    if plan.singles:
        groups.append(Group("RANDOM*", total, tuple(rows[n.label] for n in plan.singles)))
    split = "+".join(map(str, cfg.ensemble.cells))
    groups.append(Group("ENSEMBLE†", split, tuple(rows[e.label] for e in plan.ensembles)))
    return groups


def report_text(cfg: RunConfig, plan: Plan, groups: list[Group], dataset: str) -> str:
    ens, t = cfg.ensemble, cfg.train
    epochs = "/".join(str(m.epochs) for m in plan.ensembles[0].members)
    lines = [f"# Random-cell ensembles: {dataset} (Devaguptapu et al., Table 6)\n",
             f"Every network trained without adversarial training unless [train] says so; full networks "
             f"{ens.total_cells} cells, {t.epochs} epochs; ensemble members {'+'.join(map(str, ens.cells))} cells, "
             f"{epochs} epochs, then the combiner {ens.combiner_epochs} epochs (members frozen). The ensemble is "
             "attacked as one network.\n", ensemble_table(groups),
             "\\* single random cells, † ensembles of small random cells.\n", "## Sampled cells\n"]
    for e in plan.ensembles:
        lines += [f"- {e.label}: " + "; ".join(f"{m.kwargs['layers']} cells of `{m.kwargs['genotype']}`"
                                             for m in e.members)]
    lines += [f"- {n.label}: `{n.kwargs['genotype']}`" for n in plan.singles]
    return "\n".join(lines) + "\n"


def run_experiment(cfg: RunConfig, run_dir: RunDir, data: PreparedData) -> tuple[list[dict[str, Any]], Path]:
    """Train, combine and attack everything of the plan into ``run_dir``; the report rows and report.md."""
    plan = make_plan(cfg)
    ens = cfg.ensemble
    with create_backend(ens.backend, ens.workers, ens.address) as backend:
        train_networks(cfg, plan, run_dir, data.dataset.name, backend)
        rows = evaluate_all(cfg, plan, run_dir, backend)
    groups = table_groups(cfg, plan, rows)
    path = run_dir.results / "ensemble.md"
    write_text_atomic(path, report_text(cfg, plan, groups, data.dataset.name))
    return [rows[label] for label in experiment_labels(cfg)], path


def check_experiment(cfg: RunConfig, data: PreparedData) -> None:
    """Validate the [ensemble] section and every network of the experiment (nothing is written)."""
    check_ensemble(cfg, make_plan(cfg), data.dataset)
    if len(data.train) % cfg.train.batch_size == 1:
        # The combiner's batch norm cannot train on a last batch of one point (torch raises mid-run).
        raise InvalidValueError(f"{len(data.train)} training points in batches of {cfg.train.batch_size} leave a last "
                                "batch of one point, on which the combiner's batch norm cannot train; change "
                                "train.batch_size or data.train_size")


def run(cfg: RunConfig) -> Path:
    """Table 6 of Devaguptapu et al. as one job; returns the results directory."""
    protocol_for(cfg.eval)  # validates the [eval] section before anything is written
    check_cells(cfg.ensemble.cells, cfg.ensemble.total_cells)  # the cheap check first, before loading data
    device = resolve_device(cfg.device)
    data = prepare_data(cfg.data, device, cfg.seed)
    check_experiment(cfg, data)
    run_dir = RunDir.create(cfg.out, cfg.name, "ensemble", quiet=cfg.quiet)
    run_dir.write_config(written_config(cfg))
    run_dir.log(f"run directory {run_dir.path} on {device}; dataset {data.dataset.name}: "
                f"{len(data.train)} train / {len(data.val)} val / {len(data.dataset.test)} test")
    rows, report = run_experiment(cfg, run_dir, data)
    run_dir.log(f"wrote {report}")
    meta = {"dataset": data.dataset.name, "norm": cfg.eval.norm, "seed": cfg.seed}
    for path in write_robustness_report(run_dir.results, rows, meta, baseline=cfg.eval.baseline):
        run_dir.log(f"wrote {path}")
    return run_dir.results
