"""A stronger attack run later, only on the test points a benchmark's attack left standing: a cascade.

A benchmark stores which test points each architecture classified correctly under each attack and
radius, so a stronger attack need not redo the work of a weaker one: ``bench cascade BENCH --after pgd
--attack apgd-ce --eps 16/255`` attacks, with the trained networks a build kept (``--keep-weights``),
only the points PGD did not break at that radius, and records the result as its own attack key
``cascade:<after>><attack>``: a point counts as robust only if it survived both (the accuracy is the
survivors the stronger attack did not break, over all test points), so the cascade's accuracy is never
above the first attack's -- the way AutoAttack runs its members. Each run (architecture, replicate) uses
the seed its build used, on the same test points, and is written in one transaction; a rerun computes
only what is missing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robnas.attacks.evaluate import evaluate_attack
from robnas.bench.benchmark import Benchmark
from robnas.bench.builder import weights_file
from robnas.bench.progress import ArchProgress
from robnas.bench.store import POINTS, BenchmarkFile, pack_points, unpack_points
from robnas.config import config_from_dict
from robnas.data.prepare import cached_prepared_data
from robnas.eps import Eps
from robnas.errors import DataError, InvalidValueError
from robnas.evaluation.protocol import threat_model
from robnas.metrics import count_flops
from robnas.threads import thread_limit, worker_threads
from robnas.train import load_model
from robnas.train.recipes import Recipe


def cascade_key(after: str, attack: str) -> str:
    return f"cascade:{after}>{attack}"


@dataclass(frozen=True)
class CascadeJob:
    """Attack one run's surviving points with the stronger attack (a picklable callable shipped to workers)."""

    data: dict[str, Any]
    attack: str
    params: dict[str, Any]
    norm: str
    eps: str
    points: int
    seed: int
    keep_weights: str
    device: str = "cpu"
    threads: int = 0
    space_params: dict[str, Any] = field(default_factory=dict)

    def __call__(self, item: tuple[int, int, str, int, np.ndarray]) -> tuple[int, int, np.ndarray]:
        """``(row, replicate, key, run seed, surviving bits)`` -> ``(row, replicate, bits surviving both)``."""
        row, replicate, key, seed, survivors = item
        prepared = cached_prepared_data(self.data, self.seed, self.device)
        test = prepared.dataset.test
        alive = torch.from_numpy(np.flatnonzero(unpack_points(survivors, self.points)))
        out = np.zeros(self.points, dtype=bool)
        if len(alive):
            model, _ = load_model(weights_file(Path(self.keep_weights), key, replicate), test.images.device)
            model.eval()
            shape = (prepared.dataset.in_channels, *prepared.dataset.image_size)
            tm = threat_model(self.attack, (Eps.parse(self.eps),), self.norm, **self.params)
            with torch.random.fork_rng(devices=[]), thread_limit(worker_threads(count_flops(model, shape), self.threads)):
                torch.manual_seed(seed)
                result = evaluate_attack(model, tm.create(Eps.parse(self.eps), seed), test.images[alive.to(test.device)],
                                         test.labels[alive.to(test.device)])
            out[alive.numpy()] = ~result.success.cpu().numpy()
        return row, replicate, pack_points(out)


def add_cascade(path: Path, after: str, attack: str, eps: str, keep_weights: str, backend: Callable[[], Any],
                params: dict[str, Any] | None = None, data_root: str | None = None, device: str = "cpu",
                threads: int = 0, quiet: bool = False) -> str:
    """Run ``attack`` at ``eps`` on the points that survived the benchmark's attack key ``after`` there, for every
    done run whose weights ``keep_weights`` holds; returns the new key. Checked before anything is written."""
    params = dict(params or {})
    with Benchmark(path) as bench:
        meta = bench.meta
        if bench.test_points is None:
            raise DataError(f"{path} keeps no per-point outcomes (built before they existed): a cascade needs to know "
                            "which points survived; rebuild the benchmark")
        if after not in bench.result_keys("attack"):
            raise InvalidValueError(f"benchmark {bench.name} has no attack {after!r} to cascade after; its attack keys: "
                                    f"{', '.join(bench.result_keys('attack'))}")
        label = next((str(a) for a in bench.axis(after) if Eps.parse(a) == Eps.parse(eps)), None)
        if label is None:
            raise InvalidValueError(f"{after} was measured at eps {', '.join(map(str, bench.axis(after)))}, not {eps}; "
                                    "a cascade continues one of those radii")
        norm = meta["axes"][after].get("norm", "Linf")
        threat_model(attack, (Eps.parse(label),), norm, **params)  # unknown attacks and bad parameters: one line now
        points = bench.test_points
    key = cascade_key(after, attack)
    with BenchmarkFile(path, readonly=False) as file:
        archs = {row: (k, a) for row, k, a in file.conn.execute("SELECT row, key, arch FROM archs")}
        runs = [(row, r, seed) for row, r, status, seed in file.run_rows() if status == "done"]
        absent = [archs[row][1] for row, r, _ in runs if not weights_file(Path(keep_weights), archs[row][0], r).exists()]
        if absent:
            raise DataError(f"{keep_weights} lacks the trained weights of {len(absent)} runs (e.g. {absent[0]}); a "
                            "cascade attacks the networks a build kept with --keep-weights")
        have = {r: set(found[0].tolist()) for r in file.replicates() if (found := file.column(key, POINTS, r))}
        position = {r: file.column(after, POINTS, r) for r in file.replicates()}
        index = [str(a) for a in meta["axes"][after]["axis"]].index(label)
        todo = []
        for row, r, seed in runs:
            if row in have.get(r, set()):
                continue
            rows, bits = position[r]
            todo.append((row, r, archs[row][0], int(seed), bits[int(np.flatnonzero(rows == row)[0])][index]))
        axes = dict(meta["axes"])
        axes[key] = {"kind": "attack", "axis": [label], "norm": norm, "attack": attack,
                     "cascade": {"after": after, "params": params}}
        file.set_meta({"axes": axes})
        recipe = config_from_dict(Recipe, meta["recipe"], prefix="recipe.")
        data = {"name": meta["dataset"], "root": data_root, "train_size": recipe.train_size,
                "test_size": recipe.test_size, "resize": recipe.resize}
        job = CascadeJob(data, attack, params, norm, label, points, int(meta.get("seed", 0)), keep_weights, device,
                         threads)
        if not quiet:
            print(f"{len(todo)} runs: {attack} at {label} on the points {after} left standing", file=sys.stderr)
        progress = ArchProgress(len(todo), quiet=quiet)
        pool = backend()
        try:
            for _, (row, r, bits) in pool.imap_unordered(job, todo):
                accuracy = unpack_points(bits, points).mean()
                file.add_measures(row, {(key, "accuracy"): np.array([accuracy]), (key, POINTS): bits[None, :]}, r)
                progress.update()
        finally:
            pool.close()
            progress.close()
        file.pack()
    return key
