"""The plan of the random-cell ensemble experiment: what is trained, and for how long.

A seeded draw fixes every run's cells and every network's training seed, so a resumed experiment
plans the same networks; the paper's rule shares one full network's epochs among the members by
their cells. :func:`check_plan` checks everything before anything is written.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

import torch

from robnas.backends import check_backend
from robnas.checks import positive_int
from robnas.errors import InvalidValueError
from robnas.ensembles.settings import EnsembleConfig, Experiment
from robnas.evaluation import check_evaluable, protocol_for
from robnas.models import create_model
from robnas.models.ensemble import check_cells
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
class PlannedEnsemble:
    """One sample-train-ensemble run: its members (in the order of ``cells``) and the combined model."""

    label: str
    members: tuple[Network, ...]
    cells: tuple[int, ...]

    def model_kwargs(self, ens: EnsembleConfig) -> dict[str, Any]:
        """The ``random_ensemble`` model's kwargs: the members' genotypes and cells, their width, the combiner's."""
        return {"genotypes": [m.kwargs["genotype"] for m in self.members], "cells": list(self.cells),
                "C": ens.kwargs.get("C", 36), "hidden": ens.hidden}


@dataclass(frozen=True)
class ExperimentPlan:
    """Everything the experiment trains: ensembles (with their members), single random and published networks."""

    ensembles: tuple[PlannedEnsemble, ...]
    singles: tuple[Network, ...]
    published: tuple[Network, ...]

    @property
    def networks(self) -> tuple[Network, ...]:
        """Every network trained on its own (the members, the single random and the published networks)."""
        return tuple(m for e in self.ensembles for m in e.members) + self.singles + self.published

    @property
    def labels(self) -> list[str]:
        """The labels of the evaluated networks, in report order: ensembles, single random, published."""
        return [e.label for e in self.ensembles] + [n.label for n in self.singles + self.published]


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


def make_plan(exp: Experiment) -> ExperimentPlan:
    """The seeded draw of every run's cells and every network's training seed (the same on every resume)."""
    ens, epochs = exp.ensemble, exp.train.epochs
    space = get_space("darts")
    size = dict(ens.kwargs)

    def network(label: str, model: str, kwargs: dict[str, Any], epochs: int) -> Network:
        return Network(label, model, {**kwargs, **size}, epochs, evaluation_seed(exp.seed, label))

    def sample(label: str) -> str:
        return space.sample(random.Random(evaluation_seed(exp.seed, f"cells of {label}")))

    ensembles = []
    for run in range(1, ens.runs + 1):
        label = f"{ENSEMBLE}-{run}"
        members = tuple(network(f"{label}-member-{i + 1}", "ensemble_member",
                                {"genotype": sample(f"{label}-member-{i + 1}"), "layers": cells}, member)
                        for i, (cells, member) in enumerate(zip(ens.cells, member_epochs(ens.cells, epochs))))
        ensembles.append(PlannedEnsemble(label, members, ens.cells))
    singles = tuple(network(f"{RANDOM}-{run}", "darts", {"genotype": sample(f"{RANDOM}-{run}"),
                                                         "layers": ens.total_cells}, epochs)
                    for run in range(1, ens.runs + 1)) if ens.single else ()
    published = tuple(network(name.upper(), name, {"layers": ens.total_cells}, epochs) for name in ens.published)
    return ExperimentPlan(tuple(ensembles), singles, published)


def combiner_config(exp: Experiment) -> TrainConfig:
    """The experiment's [train] recipe for the combiner: its own epochs (2) and learning rate; members frozen."""
    return replace(exp.train, epochs=exp.ensemble.combiner_epochs, lr=exp.ensemble.combiner_lr)


def check_plan(exp: Experiment, plan: ExperimentPlan, dataset: Any) -> None:
    """Every setting and every network checked (built once on the CPU) before anything is written."""
    ens = exp.ensemble
    check_cells(ens.cells, ens.total_cells)
    for name in ("runs", "combiner_epochs", "hidden"):
        positive_int("ensemble", name, getattr(ens, name))
    if "genotype" in ens.kwargs or "layers" in ens.kwargs:
        raise InvalidValueError("ensemble.kwargs must not set genotype or layers: the experiment samples the cells "
                                "and sets each network's cells (ensemble.cells, ensemble.total_cells)")
    if len(ens.cells) > exp.train.epochs:
        raise InvalidValueError(f"train.epochs={exp.train.epochs} cannot be shared among {len(ens.cells)} members "
                                "(each trains at least one epoch); raise train.epochs")
    check_backend(ens.backend, ens.workers, ens.address)
    check_train_config(exp.train)
    check_train_config(combiner_config(exp))
    shape = {"num_classes": dataset.num_classes, "in_channels": dataset.in_channels}
    protocol = protocol_for(exp.eval)
    with torch.random.fork_rng(devices=[]):
        # One network of each kind: the evaluation's refusals (certify) depend on module types only.
        for net in plan.networks[:len(ens.cells)] + plan.singles[:1] + plan.published:
            check_evaluable(create_model(net.model, **shape, **net.kwargs), protocol)
        if plan.ensembles:
            check_evaluable(create_model("random_ensemble", **shape, **plan.ensembles[0].model_kwargs(ens)), protocol)
