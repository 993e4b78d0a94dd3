"""``robnas search --method darts|advrush|rnas``: one-shot search of a DARTS or NAS-Bench-201 supernet.

Everything is validated before the run directory exists. The training split (optionally a
stratified subset) is permuted with the seed and cut in half: one half for the weights, one for the
architecture. After every epoch ``checkpoints/search.pt`` is written atomically with the supernet
(weights and alphas), both optimisers, the data-order generator, the global RNG, the split
permutation and the history; the learning rate is a function of the epoch (no scheduler object to
save). A run killed at any point and resumed with ``--resume`` therefore ends bit-identical to an
uninterrupted run with the same seed on the same device and thread count.

Under ``torchrun`` every rank runs the search on its rows of every batch (see
:mod:`robnas.search.differentiable.loop`); rank 0 alone writes the run directory and the results,
and a checkpoint made with N processes resumes with M.

Outputs (``results/``): ``genotype.txt`` (the derived genotype / arch string), ``cells.png``,
``alphas.png`` and ``search.json``; ``metrics.jsonl`` holds one record per epoch (softmaxed alphas,
derived architecture, losses, regulariser values).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from robnas import distributed
from robnas.config import config_to_dict
from robnas.pipeline.config import RunConfig, written_config
from robnas.data import Dataset, Split, load_dataset, subset
from robnas.device import resolve_device
from robnas.errors import CheckpointError, InvalidValueError, UnknownNameError
from robnas.metrics import count_flops, count_params
from robnas.rng import make_generator
from robnas.search.differentiable.loop import BilevelSearch, check_settings
from robnas.search.differentiable.methods import method_terms
from robnas.search.differentiable.plots import plot_alphas
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


# --- configuration ------------------------------------------------------------------------------


def check_search_config(cfg: RunConfig) -> None:
    """Raise the one-line error for anything wrong in the search settings (no data needed)."""
    if not get_space(cfg.search.space).has_supernet:
        _build_supernet(cfg, num_classes=2, in_channels=1, mean=None, std=None)  # raises: lists the spaces with one
    d = cfg.search.differentiable
    check_settings(d)
    method_terms(cfg.search.method, d)
    if d.train_size is not None and d.train_size < 2:
        raise InvalidValueError(f"search.differentiable.train_size must be >= 2 (it is split in half), "
                                f"got {d.train_size}")
    _build_supernet(cfg, num_classes=2, in_channels=1, mean=None, std=None).derivable(d.derive_exclude)


def _build_supernet(cfg: RunConfig, num_classes: int, in_channels: int, mean: Sequence[float] | None,
                    std: Sequence[float] | None) -> Supernet:
    d = cfg.search.differentiable
    return get_space(cfg.search.space).supernet(num_classes=num_classes, in_channels=in_channels, mean=mean, std=std,
                                                C=d.C, layers=d.layers, partial_channels=d.partial_channels)


def split_halves(dataset: Dataset, cfg: RunConfig, permutation: torch.Tensor | None = None
                 ) -> tuple[Split, Split, torch.Tensor]:
    """(weight half, architecture half, permutation) of the (subset of the) training split."""
    train = subset(dataset.train, cfg.search.differentiable.train_size, cfg.seed)
    if permutation is None:
        permutation = torch.randperm(len(train), generator=make_generator(cfg.seed, "cpu"))
    elif len(permutation) != len(train):
        raise CheckpointError("the search checkpoint's data split does not match this training set; "
                              "use a new --name or drop --resume")
    half = len(train) // 2
    return train.select(permutation[:half]), train.select(permutation[half:]), permutation


def _fingerprint(cfg: RunConfig, dataset: Dataset) -> dict[str, Any]:
    """What must not change between a run and its resumption."""
    return {"space": cfg.search.space.lower(), "method": cfg.search.method.lower(), "seed": cfg.seed,
            "dataset": dataset.name, "train_points": len(dataset.train),
            "differentiable": config_to_dict(cfg.search.differentiable)}


# --- the search ---------------------------------------------------------------------------------


def _epoch_record(epoch: int, stats: dict[str, float], model: Supernet, arch_half: Split, seconds: float,
                  exclude: Sequence[str]) -> dict[str, Any]:
    record: dict[str, Any] = {"epoch": epoch + 1, **stats, "val_acc": clean_accuracy(model, arch_half),
                              "genotype": model.derive(exclude), "alphas": model.softmaxed_alphas(), "seconds": seconds}
    return record


def search_in_run(cfg: RunConfig, run: RunDir, dataset: Dataset, resume: bool, quiet: bool,
                  extra_terms: Sequence[SearchTerm] = ()) -> SearchOutcome:
    """Search inside an existing run directory (``robnas search`` and ``robnas run`` use it).

    ``extra_terms`` are user :class:`SearchTerm` s added after the method's (and the config's) own.
    """
    check_search_config(cfg)
    d = cfg.search.differentiable
    device = dataset.train.device
    torch.manual_seed(cfg.seed)  # supernet weights and alphas
    model = _build_supernet(cfg, dataset.num_classes, dataset.in_channels, dataset.mean, dataset.std).to(device)
    # Counting FLOPs imports torch's compiler stack (seconds); an explicit thread count skips it.
    flops = count_flops(model, (dataset.in_channels, *dataset.image_size)) if cfg.threads == 0 else 0
    apply_threads(device, flops, cfg.threads)
    search = BilevelSearch(model, d, method_terms(cfg.search.method, d) + list(extra_terms), seed=cfg.seed)
    data_gen = make_generator(cfg.seed, device)
    loop = EpochLoop(run, CHECKPOINT, d.epochs, device, fingerprint=_fingerprint(cfg, dataset), resume=resume,
                     quiet=quiet, desc="search", generators={"data": data_gen}, seed=cfg.seed,
                     mismatch="was written by a different search (space, method, seed, data or settings); "
                              "use a new --name or drop --resume")
    saved = loop.restored
    weight_half, arch_half, permutation = split_halves(dataset, cfg, None if saved is None else saved["permutation"].cpu())
    if saved is not None:
        model.load_state_dict(saved["model_state"])
        search.load_state_dict(saved["search_state"])
    else:
        run.log(f"{cfg.search.method} search over the {cfg.search.space} space on {dataset.name}: "
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
        _write_results(run, cfg, dataset, model, arch, loop.history, loop.seconds)
    return SearchOutcome(space=model.space, genotype=arch, seconds=loop.seconds, history=loop.history)


def _write_results(run: RunDir, cfg: RunConfig, dataset: Dataset, model: Supernet, arch: str,
                   history: list[dict[str, Any]], seconds: float) -> None:
    write_text_atomic(run.results / "genotype.txt", arch + "\n")
    get_space(model.space).draw_cell(arch, run.results / "cells.png")
    plot_alphas(history, model.op_names, model.edge_names(), run.results / "alphas.png")
    summary = {
        "space": model.space, "method": cfg.search.method.lower(), "genotype": arch, "dataset": dataset.name,
        "seed": cfg.seed, "epochs": len(history), "seconds": seconds, "supernet_params": count_params(model),
        "alphas": model.softmaxed_alphas(),
        "raw_alphas": {name: p.detach().tolist() for name, p in model.named_arch_parameters().items()},
        "genotypes_by_epoch": [r["genotype"] for r in history],
        "final": {k: v for k, v in (history[-1] if history else {}).items() if k not in ("alphas", "genotype")},
        "settings": config_to_dict(cfg.search.differentiable),
    }
    write_json_atomic(run.results / "search.json", summary)
    run.log(f"derived {model.space} architecture: {arch}")


def run_differentiable_search(cfg: RunConfig) -> Path:
    """``robnas search`` for the differentiable methods; returns the run directory."""
    check_search_config(cfg)
    world, device = distributed.setup(resolve_device(cfg.device))
    distributed.check_batch_size(cfg.search.differentiable.batch_size, "search.differentiable.batch_size", world)
    dataset = load_dataset(cfg.data.name, root=cfg.data.root, device=device, train_size=cfg.data.train_size,
                           test_size=cfg.data.test_size, seed=cfg.seed)
    split_halves(dataset, cfg)  # a train_size larger than the split fails here, before the run directory
    _build_supernet(cfg, dataset.num_classes, dataset.in_channels, dataset.mean, dataset.std)
    run = RunDir.create(cfg.out, cfg.name, "search", quiet=cfg.quiet)
    run.write_config(written_config(cfg))
    search_in_run(cfg, run, dataset, resume=cfg.resume, quiet=cfg.quiet)
    return run.results
