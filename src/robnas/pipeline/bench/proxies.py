"""``robnas bench proxies BENCH --proxies NAMES [--at init,trained]``: add training-free proxies to a benchmark.

At initialisation a proxy needs no training: each architecture's network is rebuilt with the seed its
build used (derived from the run seed and its canonical key), which gives the very weights the build
started from. A proxy of the *trained* network needs its weights, which a benchmark does not ship:
they come from the directory a build kept with ``--keep-weights``. Proxies are computed on the same
fixed training points as during a build, architecture by architecture over the chosen backend; each
architecture's values are written in one transaction, and a rerun computes only what is missing.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robnas.bench.store import BenchmarkFile
from robnas.config import config_to_dict
from robnas.errors import DataError, InvalidValueError
from robnas.pipeline.bench.build import PROXY_POINTS, weights_file
from robnas.pipeline.candidates import cached_data, candidate_threads, thread_limit
from robnas.pipeline.config import RunConfig


@dataclass(frozen=True)
class ProxyJob:
    """Compute proxies of one architecture (a picklable callable shipped to workers)."""

    space: str
    data: dict[str, Any]
    build: dict[str, Any]
    proxies: tuple[str, ...]
    at: tuple[str, ...]
    seed: int
    keep_weights: str | None = None
    device: str = "cpu"
    threads: int = 0
    space_params: dict[str, Any] = field(default_factory=dict)

    def __call__(self, item: tuple[int, str, int, tuple[str, ...]]) -> tuple[int, dict[tuple[str, str], np.ndarray]]:
        from robnas.proxies import compute
        from robnas.spaces import get_space
        from robnas.train import load_model

        row, arch, seed, missing = item
        space = get_space(self.space, **self.space_params)
        prepared = cached_data(self.data, self.seed, self.device)
        dataset = prepared.dataset
        shape = (dataset.in_channels, *dataset.image_size)
        idx = torch.randperm(len(prepared.train), generator=torch.Generator().manual_seed(seed))[:PROXY_POINTS]
        x, y = prepared.train.float_images(idx.to(prepared.train.device)), prepared.train.labels[idx]
        out: dict[tuple[str, str], np.ndarray] = {}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # the build's own initial weights
            model = space.build(arch, num_classes=dataset.num_classes, in_channels=dataset.in_channels,
                                mean=dataset.mean, std=dataset.std, **self.build).to(prepared.train.images.device)
            with thread_limit(candidate_threads(model, shape, self.threads)):
                for when in ("init", "trained"):  # every init proxy on the fresh network before any weights load
                    keys = [k for k in missing if k.endswith(f"@{when}")]
                    if keys and when == "trained":
                        model, _ = load_model(weights_file(Path(self.keep_weights or ""), space.key(arch)),
                                              prepared.train.images.device)
                    for key in keys:
                        name = key[len("proxy:"):].rsplit("@", 1)[0]
                        out[(key, "value")] = np.asarray(compute(name, model, x, y, seed=seed), dtype=np.float64)
        return row, out


def run(cfg: RunConfig) -> Path:
    from robnas.bench.benchmark import Benchmark
    from robnas.proxies import get_proxy
    from robnas.search.discrete.backends import check_backend, create_backend
    from robnas.config import config_from_dict
    from robnas.train.recipes import Recipe

    b = cfg.bench
    if len(b.targets) != 1:
        raise InvalidValueError("robnas bench proxies takes one argument: the benchmark file to add proxies to")
    if not b.proxies:
        raise InvalidValueError("robnas bench proxies needs --proxies NAMES (robnas list proxies)")
    for name in b.proxies:
        get_proxy(name)
    if not b.at or not set(b.at) <= {"init", "trained"}:
        raise InvalidValueError(f"--at must be init, trained or both, got {','.join(b.at)!r}")
    path = Path(b.targets[0])
    with Benchmark(path) as bench:
        meta = bench.meta
        keys, archs = bench.keys(), bench.archs()
        status = bench.status()
        present = {k for k in bench.result_keys("proxy")}
        rows = bench.row_ids()
        seeds = bench.column("seed")
    if "recipe" not in meta:
        raise DataError(f"{path} has no recipe (an imported benchmark): proxies need the build's networks")
    wanted = [f"proxy:{name}@{when}" for name in b.proxies for when in b.at]
    if "trained" in b.at:
        if not b.keep_weights:
            raise InvalidValueError("proxies of trained networks need the weights the build kept: pass --keep-weights "
                                    "DIR (the directory given to `robnas bench build --keep-weights`)")
        absent = [a for a, k, s in zip(archs, keys, status) if s == "done" and not weights_file(Path(b.keep_weights), k).exists()]
        if absent:
            raise DataError(f"{b.keep_weights} lacks the trained weights of {len(absent)} architectures (e.g. "
                            f"{absent[0]}); rebuild them with --keep-weights or compute --at init only")
    check_backend(b.backend, b.workers, b.address)
    recipe = config_from_dict(Recipe, meta["recipe"], prefix="recipe.")
    data = {**config_to_dict(cfg.data), "name": meta["dataset"], "train_size": recipe.train_size,
            "test_size": recipe.test_size}
    with BenchmarkFile(path, readonly=False) as file:
        have = {k: set(file.column(k, "value")[0].tolist()) if file.column(k, "value") else set() for k in wanted}
        todo = []
        for row, arch, seed, ok in zip(rows, archs, seeds, status):
            missing = tuple(k for k in wanted if row not in have[k])
            if ok == "done" and missing:
                todo.append((row, arch, int(seed), missing))
        axes = dict(meta["axes"])
        for key in wanted:
            if key not in present:
                name, when = key[len("proxy:"):].rsplit("@", 1)
                axes[key] = {"kind": "proxy", "axis": [], "proxy": name, "at": when}
        file.set_meta({"axes": axes})
        job = ProxyJob(space=meta["space"], data=data, build=dict(recipe.build), proxies=tuple(b.proxies),
                       at=tuple(b.at), seed=int(meta.get("seed", cfg.seed)), keep_weights=b.keep_weights,
                       device=cfg.device, threads=cfg.threads)
        if not cfg.quiet:
            print(f"{len(todo)} architectures need {', '.join(wanted)}", file=sys.stderr)
        backend = create_backend(b.backend, b.workers, b.address)
        from robnas.pipeline.bench.progress import ArchProgress

        progress = ArchProgress(len(todo), quiet=cfg.quiet)
        try:
            for _, (row, measures) in backend.imap_unordered(job, todo):
                file.add_measures(row, measures)
                progress.update()
        finally:
            backend.close()
            progress.close()
        file.pack()
    return path
