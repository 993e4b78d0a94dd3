"""The search stage of ``robnas run``: search first, then train the derived architecture as one more row.

A run searches when its ``[searched]`` section is enabled: the ``[search]`` section names the space and
the differentiable method (darts, advrush, rnas) and ``[search.differentiable]`` its settings;
``[searched]`` says how the derived cell is built and trained (``kwargs`` such as ``C`` and ``layers``,
per-model ``train`` overrides, the row ``label``). The derived genotype (DARTS space) or arch string
(NB201 space) becomes a :class:`ModelConfig` of the space's network (``darts`` / ``nb201``), so it is trained,
attacked and reported exactly like the baselines, with the same budget.

The search writes into the run directory itself (``checkpoints/search.pt``, one record per epoch in the
run's ``metrics.jsonl``, ``results/genotype.txt``, ``cells.png``, ``alphas.png``, ``search.json``).
Its per-epoch checkpoint makes an interrupted search resume; its finished outcome
is stored in ``results/search_outcome.json``, so a resumed run that has finished its search reads it back.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from robnas.pipeline.config import ModelConfig, RunConfig
from robnas.data import Dataset
from robnas.errors import InvalidValueError
from robnas.spaces import get_space
from robnas.store.atomic import write_json_atomic
from robnas.store.run_dir import RunDir

SEARCH_RECORD = "search_outcome.json"  # the search itself writes search.json (its summary)


def searches(cfg: RunConfig) -> bool:
    return cfg.searched.enabled


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
    from robnas.pipeline.differentiable_search import check_search_config, split_halves
    from robnas.search.differentiable.methods import METHODS

    if cfg.search.method not in METHODS:
        raise InvalidValueError(f"robnas run searches with a differentiable method ({', '.join(METHODS.names())}), got "
                                f"search.method={cfg.search.method!r}; discrete methods run with `robnas search`")
    check_search_config(cfg)
    split_halves(dataset, cfg)  # a search.differentiable.train_size larger than the split fails here
    space = get_space(cfg.search.space)
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
    from robnas.pipeline.differentiable_search import search_in_run

    run.log(f"search: {cfg.search.method} over the {cfg.search.space} space")
    outcome = search_in_run(cfg, run, dataset, resume=cfg.resume, quiet=cfg.quiet)
    record = {**asdict(outcome), "method": cfg.search.method, "label": searched_label(cfg)}
    write_json_atomic(path, record)
    run.log(f"search: derived {outcome.genotype} in {outcome.seconds:.1f}s")
    return record
