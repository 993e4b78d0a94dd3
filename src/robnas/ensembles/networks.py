"""The experiment's networks on disk: each trains in its own directory ``<run>/networks/<label>/``.

Training runs on an execution backend (``inprocess``, a local process pool, Ray), one task per
network; a network whose last checkpoint is complete is never trained again, and an unfinished one
continues from its last epoch when resuming. An ensemble is assembled from its trained members,
which are frozen, and only its combiner trains.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from robnas.backends import Backend
from robnas.config import config_to_dict
from robnas.data.prepare import PreparedData, cached_prepared_data
from robnas.ensembles.plan import ExperimentPlan, Network, PlannedEnsemble, combiner_config
from robnas.ensembles.settings import Experiment
from robnas.metrics import count_flops
from robnas.models import create_model
from robnas.models.ensemble import load_member_weights
from robnas.search.discrete.evaluators import evaluation_seed
from robnas.store.run_dir import RunDir
from robnas.threads import thread_limit, worker_threads
from robnas.train import load_model, train_model
from robnas.train.checkpoint import load_checkpoint
from robnas.train.settings import TrainConfig

NETWORKS = "networks"        # <run>/networks/<label>/: one training directory per network


def network_dir(run_dir: RunDir, label: str) -> Path:
    return run_dir.path / NETWORKS / label


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
    """A network to train in a worker: plain settings only (picklable for Ray)."""

    network: Network
    directory: str
    experiment: Experiment
    resume: bool


def train_network(task: TrainTask) -> str:
    """Train one network to its directory (in a backend's worker); returns the directory."""
    exp, net = task.experiment, task.network
    prepared = cached_prepared_data(config_to_dict(exp.data), exp.seed, exp.device)
    dataset = prepared.dataset
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(net.seed)
        model = create_model(net.model, num_classes=dataset.num_classes, in_channels=dataset.in_channels,
                             mean=dataset.mean, std=dataset.std, **net.kwargs)
        shape = (dataset.in_channels, *dataset.image_size)
        with thread_limit(worker_threads(count_flops(model, shape), exp.threads)):
            run = RunDir.create(Path(task.directory).parent, Path(task.directory).name, "child", quiet=True)
            train_model(model, prepared.train, prepared.val, replace(exp.train, epochs=net.epochs), run, seed=net.seed,
                        resume=task.resume, quiet=True, extra={"dataset": dataset.name, "label": net.label})
    return task.directory


def train_networks(exp: Experiment, plan: ExperimentPlan, run_dir: RunDir, backend: Backend,
                   resume: bool = False) -> None:
    """Train every network not yet trained, in parallel on the backend."""
    todo = [n for n in plan.networks if not (resume and is_trained(network_dir(run_dir, n.label)))]
    skipped = len(plan.networks) - len(todo)
    if skipped:
        run_dir.log(f"{skipped} networks already trained, not trained again")
    if not todo:
        return
    tasks = [TrainTask(n, str(network_dir(run_dir, n.label)), exp, resume) for n in todo]
    run_dir.log(f"training {len(tasks)} networks on {backend.describe()}")
    for index, _ in backend.imap_unordered(train_network, tasks):
        net = todo[index]
        run_dir.log(f"{net.label}: trained {net.model} ({net.kwargs.get('layers')} cells, {net.epochs} epochs)")


def load_trained(exp: Experiment, run_dir: RunDir, net: Network, device: torch.device) -> nn.Module:
    """A trained network read back from its directory."""
    return load_model(weights_path(network_dir(run_dir, net.label), exp.train), device)[0]


def combine(exp: Experiment, ensemble: PlannedEnsemble, run_dir: RunDir, data: PreparedData,
            resume: bool = False) -> nn.Module:
    """The ensemble of the trained members with its combiner trained (members frozen); resumable."""
    device = data.train.images.device
    dataset = data.dataset
    seed = evaluation_seed(exp.seed, ensemble.label)
    torch.manual_seed(seed)
    model = create_model("random_ensemble", num_classes=dataset.num_classes, in_channels=dataset.in_channels,
                         mean=dataset.mean, std=dataset.std, **ensemble.model_kwargs(exp.ensemble))
    states = [load_checkpoint(weights_path(network_dir(run_dir, m.label), exp.train), device)["model_state"]
              for m in ensemble.members]
    load_member_weights(model, states)
    model.net.members.requires_grad_(False)  # only the combiner trains (the optimiser skips grad-less weights)
    child = RunDir.create(run_dir.path / NETWORKS, ensemble.label, "child", quiet=True)
    result = train_model(model, data.train, data.val, combiner_config(exp), child, seed=seed, resume=resume,
                         quiet=True, extra={"dataset": dataset.name, "label": ensemble.label})
    result.model.requires_grad_(True)  # as a loaded checkpoint: attacks may differentiate any weight
    return result.model
