"""Table 6 of Devaguptapu et al. as one call: train the plan's networks, combine the ensembles, attack all.

Each of ``runs`` runs samples one DARTS cell per member (seeded), stacks it into a network of the
member's share of the cell budget (``cells = (12, 6, 2)`` of ``total_cells`` 20) and trains it for
the share of ``[train] epochs`` of its cells (the paper's rule: 360/180/60 of 600 epochs, so the
ensemble as a whole gets the budget of one full network); the members are then frozen and the
combiner (the paper's linear model, :mod:`robnas.models.ensemble`) is trained for
``combiner_epochs`` (2). Next to them: ``runs`` single random networks of ``total_cells`` cells
(RANDOM*) and the published cells (DARTS_V2, P-DARTS, PC-DARTS) with the same cells and the full
``[train]`` budget. Every network is then attacked with the ``[eval]`` suite -- the ensemble as one
network, end to end -- one task per network on the backend (an ensemble after training its combiner).
Finished evaluations are kept in the run directory (:mod:`robnas.evaluation.row_store`) and read
back when resuming.

The published cells are trained once each (the paper gives single values for them, mean ± std only
for the random rows). The paper does not give the combiner's width (``hidden``) or its learning rate
(``combiner_lr``); they are settings here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from robnas.backends import Backend, create_backend
from robnas.config import config_to_dict
from robnas.data.prepare import PreparedData, cached_prepared_data
from robnas.ensembles.networks import combine, load_trained, train_networks
from robnas.ensembles.plan import ExperimentPlan, Network, PlannedEnsemble, check_plan, make_plan
from robnas.ensembles.settings import Experiment
from robnas.errors import InvalidValueError
from robnas.evaluation.record import row_from_json, row_to_json
from robnas.evaluation.row_store import evaluate_into, saved_row
from robnas.store.run_dir import RunDir

Rows = dict[str, dict[str, Any]]  # label -> report row


@dataclass(frozen=True)
class EvalTask:
    """One network to attack in a worker: a trained network, or an ensemble whose combiner trains first."""

    experiment: Experiment
    run: str
    resume: bool
    network: Network | None = None
    ensemble: PlannedEnsemble | None = None


def evaluate_network(task: EvalTask) -> dict[str, Any]:
    """Attack one network with [eval] (in a backend's worker); stores and returns its row (JSON form)."""
    exp = task.experiment
    data = cached_prepared_data(config_to_dict(exp.data), exp.seed, exp.device)
    run_dir = RunDir(task.run, quiet=True)
    with torch.random.fork_rng(devices=[]):
        if task.ensemble is not None:
            ens = task.ensemble
            label, model = ens.label, combine(exp, ens, run_dir, data, task.resume)
            extra: dict[str, Any] = {"cells": list(ens.cells),
                                     "genotypes": {m.label: m.kwargs["genotype"] for m in ens.members}}
        else:
            assert task.network is not None
            net = task.network
            label, model = net.label, load_trained(exp, run_dir, net, data.train.images.device)
            extra = {"cells": [net.kwargs["layers"]]}
            if "genotype" in net.kwargs:
                extra["genotype"] = net.kwargs["genotype"]
        # Workers' progress bars would interleave; the driver logs each result.
        row = evaluate_into(run_dir, label, model, data.dataset, exp.eval, seed=exp.seed, threads=exp.threads,
                            quiet=True, **extra)
        return row_to_json(row)


def evaluate_all(exp: Experiment, plan: ExperimentPlan, run_dir: RunDir, backend: Backend,
                 resume: bool = False) -> Rows:
    """Every ensemble (its combiner trained first), single random and published network attacked with
    [eval], in parallel on the backend; finished evaluations of an earlier attempt are read back."""
    rows: Rows = {}
    tasks: list[EvalTask] = []
    for ens in plan.ensembles:
        row = saved_row(run_dir, ens.label, resume)
        if row is None:
            tasks.append(EvalTask(exp, str(run_dir.path), resume, ensemble=ens))
        else:
            rows[ens.label] = row
    for net in plan.singles + plan.published:
        row = saved_row(run_dir, net.label, resume)
        if row is None:
            tasks.append(EvalTask(exp, str(run_dir.path), resume, network=net))
        else:
            rows[net.label] = row
    if not tasks:
        return rows
    run_dir.log(f"attacking {len(tasks)} networks (each ensemble after training its combiner over its frozen "
                "members; the ensemble is attacked end to end as one network)")
    for _, data in backend.imap_unordered(evaluate_network, tasks):
        row = row_from_json(data)
        clean = row["evaluation"].clean.accuracy
        run_dir.log(f"{row['label']}: evaluated, clean {clean:.2f}%")
        rows[row["label"]] = row
    return rows


def check_experiment(exp: Experiment, data: PreparedData) -> ExperimentPlan:
    """Validate the [ensemble] section and every network of the experiment (nothing is written); its plan."""
    plan = make_plan(exp)
    check_plan(exp, plan, data.dataset)
    if len(data.train) % exp.train.batch_size == 1:
        # The combiner's batch norm cannot train on a last batch of one point (torch raises mid-run).
        raise InvalidValueError(f"{len(data.train)} training points in batches of {exp.train.batch_size} leave a "
                                "last batch of one point, on which the combiner's batch norm cannot train; change "
                                "train.batch_size or data.train_size")
    return plan


def run_experiment(exp: Experiment, run_dir: RunDir, resume: bool = False) -> tuple[ExperimentPlan, Rows]:
    """Train, combine and attack everything of the plan into ``run_dir``; the plan and every network's row.

    ``resume`` continues an interrupted experiment in the same ``run_dir``: trained networks are not
    trained again, unfinished ones continue from their last epoch, finished evaluations are read back.
    """
    plan = make_plan(exp)
    ens = exp.ensemble
    with create_backend(ens.backend, ens.workers, ens.address) as backend:
        train_networks(exp, plan, run_dir, backend, resume)
        rows = evaluate_all(exp, plan, run_dir, backend, resume)
    return plan, rows
