"""The evaluator that trains and measures search candidates (the discrete search's default evaluator).

:class:`TrainingEvaluator` builds the candidate with its space, trains it for the budget (standard
or PGD adversarial training through :func:`robnas.train.train_model`) on the search's data subset
and measures its objectives. It carries only strings, numbers and dicts, so a process pool or a
Ray cluster ships it to workers, which load the data (and the adversarial set) once per process.

Reproducibility: the evaluation's seed comes from the run's evaluation seed and the candidate's
canonical key (:func:`robnas.search.discrete.evaluators.evaluation_seed`), and the whole evaluation
runs under :func:`torch.random.fork_rng`, so the same seed gives the same numbers on every backend
and the caller's global RNG is left alone. The data subset and validation split are drawn from the
run's seed, identical for every candidate.
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass, field
from typing import Any

import torch

from robnas.adversarial_sets import load_advset
from robnas.config import config_from_dict, config_to_dict
from robnas.data import load_dataset
from robnas.data.prepare import DataConfig, cached_prepared_data
from robnas.device import resolve_device
from robnas.evaluation.settings import EvalConfig
from robnas.metrics import count_flops
from robnas.search.discrete.evaluators import evaluation_seed
from robnas.search.discrete.objectives import ObjectiveData, parse_objectives
from robnas.spaces import get_space
from robnas.store.run_dir import RunDir
from robnas.threads import thread_limit, worker_threads
from robnas.train import train_model
from robnas.train.settings import TrainConfig

# Per-process cache: a worker loads an adversarial set once, not once per candidate.
_ADVSETS: dict[str, Any] = {}


@dataclass(frozen=True)
class TrainingEvaluator:
    """Train a candidate of ``space`` on the configured data for ``train`` epochs and measure ``objectives``.

    ``data``, ``train`` and ``eval`` are the ``[data]``, ``[train]`` and ``[eval]`` config sections as
    dicts; ``build_kwargs`` size the network (e.g. ``{"C": 8, "N": 1}``); ``advset`` is the directory
    of a pre-generated adversarial set (for ``advset_error``).
    """

    space: str
    objectives: tuple[str, ...]
    data: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    eval: dict[str, Any] = field(default_factory=dict)
    build_kwargs: dict[str, Any] = field(default_factory=dict)
    space_params: dict[str, Any] = field(default_factory=dict)
    advset: str | None = None
    seed: int = 0
    device: str = "cpu"
    threads: int = 0            # 0: robnas.threads policy, capped by the worker's share of the cores

    # --- configuration -------------------------------------------------------------------------

    def _configs(self) -> tuple[Any, Any, Any]:
        return (config_from_dict(DataConfig, self.data, prefix="data."),
                config_from_dict(TrainConfig, self.train, prefix="train."),
                config_from_dict(EvalConfig, self.eval, prefix="eval."))

    def parsed_objectives(self) -> list[Any]:
        return parse_objectives(self.objectives, self._configs()[2])

    def needs_training(self) -> bool:
        return any(o.needs_training for o in self.parsed_objectives())

    def budget(self) -> dict[str, Any]:
        """Everything that determines the measured numbers (the cache identity, with space, key,
        dataset and seed): objectives, network size, data subset, and -- when anything is trained --
        the training recipe; attack settings only when a robust objective uses them."""

        data_cfg, train_cfg, eval_cfg = self._configs()
        objectives = self.parsed_objectives()
        budget: dict[str, Any] = {"evaluator": "train", "objectives": [o.name for o in objectives],
                                  "build": self.build_kwargs, "data": config_to_dict(data_cfg)}
        if any(o.needs_training for o in objectives):
            budget["train"] = config_to_dict(train_cfg)
            budget["epochs"] = train_cfg.epochs
            budget["adversarial"] = train_cfg.adversarial.enabled
        if any(o.name.startswith("robust_error") for o in objectives):
            budget["attack"] = {k: getattr(eval_cfg, k) for k in
                                ("alpha_ratio", "steps", "apgd_steps", "apgd_restarts", "norm", "early_stop")}
        if self.advset is not None and any(o.name == "advset_error" for o in objectives):
            budget["advset"] = self._advset().manifest["sha256"]
        return budget

    def check_build(self) -> None:
        """Load the data (on the CPU) and build one random network of the space, so that a bad dataset or
        network kwarg fails before a search starts (nothing is trained, the global RNG is left alone)."""
        data_cfg = self._configs()[0]
        dataset = load_dataset(data_cfg.name, root=data_cfg.root, device="cpu", train_size=data_cfg.train_size,
                               test_size=data_cfg.test_size, seed=self.seed)
        space = get_space(self.space, **self.space_params)
        with torch.random.fork_rng(devices=[]):
            space.build(space.sample(random.Random(self.seed)), num_classes=dataset.num_classes,
                        in_channels=dataset.in_channels, mean=dataset.mean, std=dataset.std, **self.build_kwargs)

    # --- per-process state ---------------------------------------------------------------------

    def _data(self) -> Any:
        self._configs()  # the [data] section is checked with the others
        return cached_prepared_data(self.data, self.seed, self.device)

    def _advset(self) -> Any:
        assert self.advset is not None
        if self.advset not in _ADVSETS:
            _ADVSETS[self.advset] = load_advset(self.advset, resolve_device(self.device))
        return _ADVSETS[self.advset]

    # --- the evaluation ------------------------------------------------------------------------

    def __call__(self, arch: str) -> dict[str, float]:
        space = get_space(self.space, **self.space_params)
        arch = space.validate(arch)
        seed = evaluation_seed(self.seed, space.key(arch))
        _, train_cfg, eval_cfg = self._configs()
        objectives = self.parsed_objectives()
        prepared = self._data()
        dataset = prepared.dataset
        shape = (dataset.in_channels, *dataset.image_size)
        needs_advset = any(o.name == "advset_error" for o in objectives)
        data = ObjectiveData(prepared.val, shape, seed=seed, eval=eval_cfg,
                             advset=self._advset() if needs_advset and self.advset else None)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = space.build(arch, num_classes=dataset.num_classes, in_channels=dataset.in_channels,
                                mean=dataset.mean, std=dataset.std, **self.build_kwargs)
            model.to(prepared.train.images.device)
            with thread_limit(worker_threads(count_flops(model, shape), self.threads)):
                if any(o.needs_training for o in objectives):
                    with tempfile.TemporaryDirectory(prefix="robnas-eval-") as tmp:
                        train_model(model, prepared.train, prepared.val, train_cfg, RunDir(tmp, quiet=True),
                                    seed=seed, quiet=True, checkpoints=False)  # never resumed: no checkpoint
                model.eval()
                return {o.name: float(o.compute(model, data)) for o in objectives}
