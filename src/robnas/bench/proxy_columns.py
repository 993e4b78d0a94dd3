"""Adding training-free proxies to a built benchmark (``robnas bench proxies BENCH --proxies NAMES``).

At initialisation a proxy needs no training: each architecture's network is rebuilt with the seed its
build used (derived from the run seed and its canonical key), which gives the very weights the build
started from. A proxy of the *trained* network needs its weights, which a benchmark does not ship:
they come from the directory a build kept with ``--keep-weights``. Proxies are computed on the same
fixed training points as during a build, run by run (architecture x replicate) over the chosen
backend; each run's values are written in one transaction, and a rerun computes only what is missing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robnas.bench.benchmark import Benchmark
from robnas.bench.builder import PROXY_POINTS, weights_file
from robnas.bench.progress import ArchProgress
from robnas.bench.store import BenchmarkFile
from robnas.config import config_from_dict
from robnas.data.prepare import cached_prepared_data
from robnas.errors import DataError, InvalidValueError
from robnas.metrics import count_flops
from robnas.proxies import compute, get_proxy
from robnas.spaces import get_space
from robnas.threads import thread_limit, worker_threads
from robnas.train import load_model
from robnas.train.recipes import Recipe


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

    def __call__(self, item: tuple[int, int, str, int, tuple[str, ...]]
                 ) -> tuple[int, int, dict[tuple[str, str], np.ndarray]]:
        row, replicate, arch, seed, missing = item
        space = get_space(self.space, **self.space_params)
        prepared = cached_prepared_data(self.data, self.seed, self.device)
        dataset = prepared.dataset
        shape = (dataset.in_channels, *dataset.image_size)
        idx = torch.randperm(len(prepared.train), generator=torch.Generator().manual_seed(seed))[:PROXY_POINTS]
        x, y = prepared.train.float_images(idx.to(prepared.train.device)), prepared.train.labels[idx]
        out: dict[tuple[str, str], np.ndarray] = {}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # the build's own initial weights
            model = space.build(arch, num_classes=dataset.num_classes, in_channels=dataset.in_channels,
                                mean=dataset.mean, std=dataset.std, **self.build).to(prepared.train.images.device)
            with thread_limit(worker_threads(count_flops(model, shape), self.threads)):
                for when in ("init", "trained"):  # every init proxy on the fresh network before any weights load
                    keys = [k for k in missing if k.endswith(f"@{when}")]
                    if keys and when == "trained":
                        model, _ = load_model(weights_file(Path(self.keep_weights or ""), space.key(arch), replicate),
                                              prepared.train.images.device)
                    for key in keys:
                        name = key[len("proxy:"):].rsplit("@", 1)[0]
                        out[(key, "value")] = np.asarray(compute(name, model, x, y, seed=seed), dtype=np.float64)
        return row, replicate, out


def add_proxies(path: Path, proxies: tuple[str, ...], at: tuple[str, ...], keep_weights: str | None,
                backend: Callable[[], Any], data_root: str | None = None, device: str = "cpu", threads: int = 0,
                quiet: bool = False) -> Path:
    """Compute ``proxies`` (at ``at``: init, trained) for every done run of the benchmark at ``path`` that lacks
    them, on the backend ``backend()`` makes once everything is validated (before anything is written)."""
    if not proxies:
        raise InvalidValueError("robnas bench proxies needs --proxies NAMES (robnas list proxies)")
    for name in proxies:
        get_proxy(name)
    if not at or not set(at) <= {"init", "trained"}:
        raise InvalidValueError(f"--at must be init, trained or both, got {','.join(at)!r}")
    with Benchmark(path) as bench:
        meta = bench.meta
        present = set(bench.result_keys("proxy"))
    if "recipe" not in meta:
        raise DataError(f"{path} has no recipe (an imported benchmark): proxies need the build's networks")
    wanted = [f"proxy:{name}@{when}" for name in proxies for when in at]
    with BenchmarkFile(path, readonly=False) as file:
        keys = {row: (key, arch) for row, key, arch in file.conn.execute("SELECT row, key, arch FROM archs")}
        runs = [(row, replicate, seed) for row, replicate, status, seed in file.run_rows() if status == "done"]
        if "trained" in at:
            if not keep_weights:
                raise InvalidValueError("proxies of trained networks need the weights the build kept: pass "
                                        "--keep-weights DIR (the directory given to `robnas bench build --keep-weights`)")
            absent = [keys[row][1] for row, replicate, _ in runs
                      if not weights_file(Path(keep_weights), keys[row][0], replicate).exists()]
            if absent:
                raise DataError(f"{keep_weights} lacks the trained weights of {len(absent)} runs (e.g. {absent[0]}); "
                                "rebuild them with --keep-weights or compute --at init only")
        have = {(k, r): set(found[0].tolist()) for k in wanted for r in file.replicates()
                if (found := file.column(k, "value", r)) is not None}
        todo = []
        for row, replicate, seed in runs:
            missing = tuple(k for k in wanted if row not in have.get((k, replicate), set()))
            if missing:
                todo.append((row, replicate, keys[row][1], int(seed), missing))
        axes = dict(meta["axes"])
        for key in wanted:
            if key not in present:
                name, when = key[len("proxy:"):].rsplit("@", 1)
                axes[key] = {"kind": "proxy", "axis": [], "proxy": name, "at": when}
        file.set_meta({"axes": axes})
        recipe = config_from_dict(Recipe, meta["recipe"], prefix="recipe.")
        data = {"name": meta["dataset"], "root": data_root, "train_size": recipe.train_size,
                "test_size": recipe.test_size, "resize": recipe.resize}
        job = ProxyJob(space=meta["space"], data=data, build=dict(recipe.build), proxies=tuple(proxies), at=tuple(at),
                       seed=int(meta.get("seed", 0)), keep_weights=keep_weights, device=device, threads=threads)
        if not quiet:
            print(f"{len(todo)} runs need {', '.join(wanted)}", file=sys.stderr)
        progress = ArchProgress(len(todo), quiet=quiet)
        pool = backend()
        try:
            for _, (row, replicate, measures) in pool.imap_unordered(job, todo):
                file.add_measures(row, measures, replicate)
                progress.update()
        finally:
            pool.close()
            progress.close()
        file.pack()
    return path
