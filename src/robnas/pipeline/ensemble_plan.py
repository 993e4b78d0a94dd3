"""The plan of the random-cell ensemble experiment (:mod:`robnas.pipeline.ensemble`): what is trained, how long.

A seeded draw fixes every run's cells and every network's training seed, so a resumed experiment
plans the same networks; the paper's rule shares one full network's epochs among the members by
their cells. Everything is checked here before the job writes anything.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

import torch

from robnas.errors import InvalidValueError
from robnas.evaluation import check_evaluable, protocol_for
from robnas.models import create_model
from robnas.models.ensemble import check_cells
from robnas.pipeline.config import EnsembleConfig, RunConfig
from robnas.backends import check_backend
from robnas.search.discrete.evaluators import evaluation_seed
from robnas.spaces import get_space
from robnas.train.settings import TrainConfig, check_train_config

ENSEMBLE, RANDOM = "ENSEMBLE", "RANDOM"


@dataclass(frozen=True)
class Network:
    """One network to train: a registered model with its kwargs, its epochs and its training seed."""

    label: str
    model: str
    kwargs: dict[str, Any]
    epochs: int
    seed: int


@dataclass(frozen=True)
class EnsemblePlan:
    """One sample-train-ensemble run: its members (in the order of ``cells``) and the combined model."""

    label: str
    members: tuple[Network, ...]
    cells: tuple[int, ...]

    def model_kwargs(self, ens: EnsembleConfig) -> dict[str, Any]:
        return {"genotypes": [m.kwargs["genotype"] for m in self.members], "cells": list(self.cells),
                "C": ens.kwargs.get("C", 36), "hidden": ens.hidden}


@dataclass(frozen=True)
class Plan:
    """Everything the experiment trains: ensembles (with their members), single random and published networks."""

    ensembles: tuple[EnsemblePlan, ...]
    singles: tuple[Network, ...]
    published: tuple[Network, ...]

    @property
    def networks(self) -> tuple[Network, ...]:
        """Every network trained on its own (the members, the single random and the published networks)."""
        return tuple(m for e in self.ensembles for m in e.members) + self.singles + self.published


def member_epochs(cells: tuple[int, ...], epochs: int) -> tuple[int, ...]:
    """Epochs proportional to each member's cells, summing to ``epochs`` (largest remainders), at least 1.

    The paper's rule: with 600 epochs for 20 cells, members of 12, 6 and 2 cells train 360, 180, 60.
    """
    total = sum(cells)
    exact = [epochs * c / total for c in cells]
    share = [int(e) for e in exact]
    by_remainder = sorted(range(len(cells)), key=lambda i: (share[i] - exact[i], i))
    for i in by_remainder[:epochs - sum(share)]:
        share[i] += 1
    return tuple(max(1, s) for s in share)


def make_plan(cfg: RunConfig) -> Plan:
    """The seeded draw of every run's cells and every network's training seed (the same on every resume)."""
    ens = cfg.ensemble
    space = get_space("darts")
    size = dict(ens.kwargs)

    def network(label: str, model: str, kwargs: dict[str, Any], epochs: int) -> Network:
        return Network(label, model, {**kwargs, **size}, epochs, evaluation_seed(cfg.seed, label))

    def sample(label: str) -> str:
        return space.sample(random.Random(evaluation_seed(cfg.seed, f"cells of {label}")))

    ensembles = []
    for run in range(1, ens.runs + 1):
        label = f"{ENSEMBLE}-{run}"
        members = tuple(network(f"{label}-member-{i + 1}", "ensemble_member",
                                {"genotype": sample(f"{label}-member-{i + 1}"), "layers": cells}, epochs)
                        for i, (cells, epochs) in enumerate(zip(ens.cells, member_epochs(ens.cells, cfg.train.epochs))))
        ensembles.append(EnsemblePlan(label, members, ens.cells))
    singles = tuple(network(f"{RANDOM}-{run}", "darts", {"genotype": sample(f"{RANDOM}-{run}"),
                                                         "layers": ens.total_cells}, cfg.train.epochs)
                    for run in range(1, ens.runs + 1)) if ens.single else ()
    published = tuple(network(name.upper(), name, {"layers": ens.total_cells}, cfg.train.epochs)
                      for name in ens.published)
    return Plan(tuple(ensembles), singles, published)


def combiner_config(cfg: RunConfig) -> TrainConfig:
    """The run's [train] recipe for the combiner: its own epochs (2) and learning rate; members frozen."""
    return replace(cfg.train, epochs=cfg.ensemble.combiner_epochs, lr=cfg.ensemble.combiner_lr)


def check_ensemble(cfg: RunConfig, plan: Plan, dataset: Any) -> None:
    """Every setting and every network checked (built once on the CPU) before anything is written."""
    ens = cfg.ensemble
    check_cells(ens.cells, ens.total_cells)
    for name, value in (("runs", ens.runs), ("combiner_epochs", ens.combiner_epochs), ("hidden", ens.hidden)):
        if isinstance(value, bool) or value < 1:
            raise InvalidValueError(f"ensemble.{name} must be >= 1, got {value}")
    if "genotype" in ens.kwargs or "layers" in ens.kwargs:
        raise InvalidValueError("ensemble.kwargs must not set genotype or layers: the experiment samples the cells "
                                "and sets each network's cells (ensemble.cells, ensemble.total_cells)")
    if len(ens.cells) > cfg.train.epochs:
        raise InvalidValueError(f"train.epochs={cfg.train.epochs} cannot be shared among {len(ens.cells)} members "
                                "(each trains at least one epoch); raise train.epochs")
    check_backend(ens.backend, ens.workers, ens.address)
    check_train_config(cfg.train)
    check_train_config(combiner_config(cfg))
    shape = {"num_classes": dataset.num_classes, "in_channels": dataset.in_channels}
    protocol = protocol_for(cfg.eval)
    with torch.random.fork_rng(devices=[]):
        # One network of each kind: the evaluation's refusals (certify) depend on module types only.
        for net in plan.networks[:len(ens.cells)] + plan.singles[:1] + plan.published:
            check_evaluable(create_model(net.model, **shape, **net.kwargs), protocol)
        if plan.ensembles:
            check_evaluable(create_model("random_ensemble", **shape, **plan.ensembles[0].model_kwargs(ens)), protocol)


def experiment_labels(cfg: RunConfig) -> list[str]:
    """The report labels of the experiment's evaluated networks (ensembles, single random, published)."""
    plan = make_plan(cfg)
    return [e.label for e in plan.ensembles] + [n.label for n in plan.singles + plan.published]
