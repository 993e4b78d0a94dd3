"""A one-shot search of a supernet inside a run directory, resumable to the bit.

The training split (optionally a stratified subset) is permuted with the seed and cut in half: one
half for the weights, one for the architecture. After every epoch ``checkpoints/search.pt`` is
written atomically with the supernet (weights and alphas), both optimisers, the data-order
generator, the global RNG, the split permutation and the history; the learning rate is a function
of the epoch (no scheduler object to save). A search killed at any point and resumed therefore ends
bit-identical to an uninterrupted one with the same seed on the same device and thread count.

Under ``torchrun`` every rank runs the search on its rows of every batch (see
:mod:`robnas.search.differentiable.loop`); rank 0 alone writes the run directory, and a checkpoint
made with N processes resumes with M.

Outputs (``results/``): ``genotype.txt`` (the derived genotype / arch string), ``cells.png``,
``alphas.png`` and ``search.json``; ``metrics.jsonl`` holds one record per epoch (softmaxed alphas,
derived architecture, losses, regulariser values).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

import robnas.distributed as distributed
from robnas.config import config_to_dict
from robnas.data import Dataset, Split, subset
from robnas.errors import CheckpointError, InvalidValueError
from robnas.metrics import count_flops, count_params
from robnas.rng import make_generator
from robnas.search.differentiable.loop import BilevelSearch, check_settings
from robnas.search.differentiable.methods import method_terms
from robnas.search.differentiable.plots import plot_alphas
from robnas.search.differentiable.settings import DifferentiableSearchConfig
from robnas.search.differentiable.terms import SearchTerm
from robnas.spaces import Supernet, get_space
from robnas.store.atomic import write_json_atomic, write_text_atomic
from robnas.store.run_dir import RunDir
from robnas.threads import apply_threads
from robnas.train.epochs import EpochLoop
from robnas.train.trainer import clean_accuracy

CHECKPOINT = "search.pt"


@dataclass
class SearchOutcome:
    space: str
    genotype: str
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)


# --- settings -----------------------------------------------------------------------------------


def check_search(space: str, method: str, settings: DifferentiableSearchConfig) -> None:
    """Raise the one-line error for anything wrong in the search settings (no data needed)."""
    if not get_space(space).has_supernet:
        build_supernet(space, settings, num_classes=2, in_channels=1)  # raises: lists the spaces with one
    check_settings(settings)
    method_terms(method, settings)
    if settings.train_size is not None and settings.train_size < 2:
        raise InvalidValueError(f"search.differentiable.train_size must be >= 2 (it is split in half), "
                                f"got {settings.train_size}")
    build_supernet(space, settings, num_classes=2, in_channels=1).derivable(settings.derive_exclude)


def build_supernet(space: str, settings: DifferentiableSearchConfig, num_classes: int, in_channels: int,
                   mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> Supernet:
    """The space's supernet at the settings' width (``C``), depth (``layers``) and partial channels."""
    return get_space(space).supernet(num_classes=num_classes, in_channels=in_channels, mean=mean, std=std,
                                     C=settings.C, layers=settings.layers, partial_channels=settings.partial_channels)


def split_halves(train: Split, settings: DifferentiableSearchConfig, seed: int,
                 permutation: torch.Tensor | None = None) -> tuple[Split, Split, torch.Tensor]:
    """(weight half, architecture half, permutation) of the (subset of the) training split."""
    train = subset(train, settings.train_size, seed)
    if permutation is None:
        permutation = torch.randperm(len(train), generator=make_generator(seed, "cpu"))
    elif len(permutation) != len(train):
        raise CheckpointError("the search checkpoint's data split does not match this training set; "
                              "use a new --name or drop --resume")
    half = len(train) // 2
    return train.select(permutation[:half]), train.select(permutation[half:]), permutation


def _fingerprint(space: str, method: str, settings: DifferentiableSearchConfig, seed: int,
                 dataset: Dataset) -> dict[str, Any]:
    """What must not change between a run and its resumption."""
    return {"space": space.lower(), "method": method.lower(), "seed": seed, "dataset": dataset.name,
            "train_points": len(dataset.train), "differentiable": config_to_dict(settings)}


# --- the search ---------------------------------------------------------------------------------


def _epoch_record(epoch: int, stats: dict[str, float], model: Supernet, arch_half: Split, seconds: float,
                  exclude: Sequence[str]) -> dict[str, Any]:
    record: dict[str, Any] = {"epoch": epoch + 1, **stats, "val_acc": clean_accuracy(model, arch_half),
                              "genotype": model.derive(exclude), "alphas": model.softmaxed_alphas(), "seconds": seconds}
    return record


def search_in_run(run: RunDir, dataset: Dataset, space: str, method: str, settings: DifferentiableSearchConfig, *,
                  seed: int = 0, threads: int = 0, resume: bool = False, quiet: bool = False,
                  extra_terms: Sequence[SearchTerm] = ()) -> SearchOutcome:
    """Search ``space`` with ``method`` on ``dataset.train`` inside an existing run directory.

    ``threads`` is the CPU thread request (0: by the supernet's size, see :mod:`robnas.threads`);
    ``extra_terms`` are user :class:`SearchTerm` s added after the method's (and the settings') own.
    """
    check_search(space, method, settings)
    d = settings
    device = dataset.train.device
    torch.manual_seed(seed)  # supernet weights and alphas
    model = build_supernet(space, d, dataset.num_classes, dataset.in_channels, dataset.mean, dataset.std).to(device)
    # Counting FLOPs imports torch's compiler stack (seconds); an explicit thread count skips it.
    flops = count_flops(model, (dataset.in_channels, *dataset.image_size)) if threads == 0 else 0
    apply_threads(device, flops, threads)
    search = BilevelSearch(model, d, method_terms(method, d) + list(extra_terms), seed=seed)
    data_gen = make_generator(seed, device)
    loop = EpochLoop(run, CHECKPOINT, d.epochs, device, fingerprint=_fingerprint(space, method, d, seed, dataset),
                     resume=resume, quiet=quiet, desc="search", generators={"data": data_gen}, seed=seed,
                     mismatch="was written by a different search (space, method, seed, data or settings); "
                              "use a new --name or drop --resume")
    saved = loop.restored
    weight_half, arch_half, permutation = split_halves(dataset.train, d, seed,
                                                       None if saved is None else saved["permutation"].cpu())
    if saved is not None:
        model.load_state_dict(saved["model_state"])
        search.load_state_dict(saved["search_state"])
    else:
        run.log(f"{method} search over the {space} space on {dataset.name}: "
                f"{len(weight_half)} weight / {len(arch_half)} architecture points, supernet "
                f"{count_params(model)} parameters, {d.epochs} epochs, order {d.order}, on {device}"
                + (f" x {distributed.current().size} processes" if distributed.current().enabled else ""))

    for epoch in loop:
        def wrap(pairs: Iterable, steps: int) -> Iterable:
            return tqdm(pairs, total=steps, desc=f"epoch {epoch + 1}/{d.epochs}", unit="step", leave=False,
                        disable=loop.quiet)

        epoch_start = time.perf_counter()
        stats = search.run_epoch(epoch, weight_half, arch_half, data_gen, wrap)
        record = _epoch_record(epoch, stats, model, arch_half, time.perf_counter() - epoch_start, d.derive_exclude)
        loop.end_epoch(record, {"model_spec": model.spec, "model_state": model.state_dict(),
                                "search_state": search.state_dict(), "permutation": permutation})
    arch = model.derive(d.derive_exclude)
    if run.writes:
        _write_results(run, method, d, seed, dataset, model, arch, loop.history, loop.seconds)
    return SearchOutcome(space=model.space, genotype=arch, seconds=loop.seconds, history=loop.history)


def _write_results(run: RunDir, method: str, settings: DifferentiableSearchConfig, seed: int, dataset: Dataset,
                   model: Supernet, arch: str, history: list[dict[str, Any]], seconds: float) -> None:
    write_text_atomic(run.results / "genotype.txt", arch + "\n")
    get_space(model.space).draw_cell(arch, run.results / "cells.png")
    plot_alphas(history, model.op_names, model.edge_names(), run.results / "alphas.png")
    summary = {
        "space": model.space, "method": method.lower(), "genotype": arch, "dataset": dataset.name,
        "seed": seed, "epochs": len(history), "seconds": seconds, "supernet_params": count_params(model),
        "alphas": model.softmaxed_alphas(),
        "raw_alphas": {name: p.detach().tolist() for name, p in model.named_arch_parameters().items()},
        "genotypes_by_epoch": [r["genotype"] for r in history],
        "final": {k: v for k, v in (history[-1] if history else {}).items() if k not in ("alphas", "genotype")},
        "settings": config_to_dict(settings),
    }
    write_json_atomic(run.results / "search.json", summary)
    run.log(f"derived {model.space} architecture: {arch}")
