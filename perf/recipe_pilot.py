"""Recipe pilot: which training recipe + protocol ranks NAS-Bench-201 architectures, not seeds?

Trains the same stratified sample of NAS-Bench-201 classes (stratified by their published CIFAR-10
accuracy and their number of convolutions, proportional allocation, so the sample stands for the
whole space) with each candidate recipe, twice (replicates 0 and 1: independent training seeds,
the same data and test points), and prints per recipe:

* the replicate Kendall tau of clean accuracy and of each robust measure (two trainings of the same
  cell: the noise ceiling of any ranking the recipe gives), with a bootstrap interval over cells;
* Kendall tau of the replicate mean against NAS-Bench-201's CIFAR-10 test accuracy (transfer), and
  tau of parameter count against the replicate mean (a ranking a recipe should beat);
* the spread of the replicate mean over cells (10th / 50th / 90th percentile) and the replicate SD;
* CPU-seconds per architecture: training, the whole evaluation, and each protocol cell alone
  (clean; every attack at every radius), the latter timed on a few trained networks.

Every (recipe, replicate) is a resumable benchmark file under ``--out``: a killed pilot continues
where it stopped. The NAS-Bench-201 CIFAR-10 accuracies come from the analog-nasbench wheel
(``pip install --no-deps analog-nasbench==0.1.3``), read at run time.

    .venv/bin/python perf/recipe_pilot.py [--out build/pilot] [--archs 150] [--recipes a,b] [--workers 2]
    .venv/bin/python perf/recipe_pilot.py --report-only        # the table from what is built so far
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robnas.backends import create_backend
from robnas.bench.builder import ArchBuilder, resolve_protocol, weights_file
from robnas.bench.kendall import bootstrap_taus, interval, kendall_tau, resample_counts
from robnas.bench.reference import nb201_cifar10
from robnas.bench.store import BenchmarkFile
from robnas.data.prepare import DataConfig, load_configured
from robnas.eps import Eps
from robnas.evaluation.engine import evaluate_threat_model
from robnas.spaces import get_space
from robnas.spaces.nb201 import arch_str
from robnas.spaces.nb201.index import index_of, representative_of, unique_ids
from robnas.train.checkpoint import load_model
from robnas.train.recipes import Recipe, get_recipe
from robnas.train.settings import AdversarialTrainingConfig, TrainConfig

CONV_OPS = ("nor_conv_3x3", "nor_conv_1x1")
_DIGITS_RADII = ("4/255", "8/255", "16/255", "32/255")
_FASHION_RADII = ("2/255", "4/255", "8/255", "16/255")


def _eval(radii: tuple[str, ...]) -> dict[str, Any]:
    """The pilot protocol: clean, FGSM and PGD-10 (step eps/4) at every radius."""
    return {"attacks": ["fgsm", "pgd"], "eps": list(radii), "steps": 10, "hrs_attack": "pgd", "reliability": False}


@dataclass(frozen=True)
class Candidate:
    """A recipe + protocol pair of the pilot."""

    dataset: str
    recipe: Recipe
    eval: dict[str, Any]
    headline: str            # the robust measure the recipe is judged on, "<key>@<radius>"


def _digits(description: str, epochs: int, C: int = 8, **train: Any) -> Recipe:
    cfg = TrainConfig(epochs=epochs, batch_size=64, lr=0.05, lr_min=0.0, weight_decay=3e-4, grad_clip=5.0, **train)
    return Recipe(description, cfg, {"C": C, "N": 1})


CANDIDATES: dict[str, Candidate] = {
    "digits-tiny": Candidate("digits", get_recipe("digits-tiny"), _eval(_DIGITS_RADII), "pgd@16/255"),
    "digits-full": Candidate("digits", _digits("C=8 N=1, the whole 1437-image training split, 20 epochs", 20),
                             _eval(_DIGITS_RADII), "pgd@16/255"),
    "fashion-12": Candidate("fashion-mnist", Recipe(
        "Fashion-MNIST shrunk to 12x12, C=8 N=1, 10000 training images, 3 epochs of SGD lr 0.1 batch 128, "
        "500 test points", TrainConfig(epochs=3, batch_size=128, lr=0.1, weight_decay=3e-4, grad_clip=5.0),
        {"C": 8, "N": 1}, train_size=10000, test_size=500, resize=12), _eval(_FASHION_RADII), "pgd@8/255"),
    "digits-wide": Candidate("digits", _digits("C=16 N=1, the whole training split, 20 epochs", 20, C=16),
                             _eval(_DIGITS_RADII), "pgd@16/255"),
    "fashion-8": Candidate("fashion-mnist", Recipe(
        "Fashion-MNIST shrunk to 8x8 (the digits' size), C=8 N=1, 20000 training images, 3 epochs of SGD lr 0.1 "
        "batch 128, 1000 test points", TrainConfig(epochs=3, batch_size=128, lr=0.1, weight_decay=3e-4, grad_clip=5.0),
        {"C": 8, "N": 1}, train_size=20000, test_size=1000, resize=8), _eval(_FASHION_RADII), "pgd@8/255"),
    "digits-pgd-at": Candidate("digits", _digits(
        "C=8 N=1, the whole training split, 5 epochs of PGD-2 adversarial training at 16/255 (step 8/255), as "
        "NAS-RobBench-201 trains adversarially (there PGD-7 at 8/255 for 50 epochs on CIFAR-10), cut to the budget",
        5, adversarial=AdversarialTrainingConfig(enabled=True, eps=Eps.parse("16/255"), alpha=Eps.parse("8/255"),
                                                  steps=2)), _eval(_DIGITS_RADII), "pgd@16/255"),
    "digits-long-aug": Candidate("digits", _digits(
        "C=8 N=1, the whole training split, 40 epochs with 1-pixel random shifts (crop padding 1)", 40,
        crop_padding=1), _eval(_DIGITS_RADII), "pgd@16/255"),
}


def conv_count(arch: str) -> int:
    return sum(arch.count(op) for op in CONV_OPS)


def stratified_classes(count: int, seed: int, reference: dict[int, float]) -> list[int]:
    """``count`` NB201 class representatives, proportionally allocated over CIFAR-10 accuracy deciles x
    conv-count groups (0-1, 2-3, 4-6 convolutions), drawn at random (seeded) within each stratum."""
    reps = unique_ids()
    acc = np.array([reference[i] for i in reps])
    deciles = np.searchsorted(np.quantile(acc, np.linspace(0, 1, 11)[1:-1]), acc, side="right")
    groups = np.array([min(conv_count(arch_str(i)) // 2, 2) for i in reps])
    strata: dict[tuple[int, int], list[int]] = {}
    for rep, d, g in zip(reps, deciles, groups):
        strata.setdefault((int(d), int(g)), []).append(rep)
    keys = sorted(strata)
    shares = np.array([len(strata[k]) for k in keys], dtype=float) * count / len(reps)
    quota = np.floor(shares).astype(int)
    for i in np.argsort(-(shares - quota), kind="stable")[: count - quota.sum()]:
        quota[i] += 1
    rng = random.Random(seed)
    chosen = [rep for k, q in zip(keys, quota) for rep in rng.sample(strata[k], int(q))]
    return sorted(chosen)


def build(name: str, cand: Candidate, archs: list[str], replicate: int, out: Path, workers: int,
          keep: Path | None) -> Path:
    """Train and evaluate ``archs`` with replicate ``replicate`` of a candidate into its resumable file."""
    path = out / f"{name}-r{replicate}.sqlite"
    builder = ArchBuilder(space="nb201", data={"name": cand.dataset, "train_size": cand.recipe.train_size,
                                               "test_size": cand.recipe.test_size, "resize": cand.recipe.resize},
                          recipe=cand.recipe.to_dict(), protocol="eval", eval=cand.eval, seed=0,
                          keep_weights=str(keep) if keep else None)
    space = get_space("nb201")
    if path.exists():  # a finished file (possibly written by robnas before format 2) is only read
        with BenchmarkFile(path) as done:
            if not [a for a in archs if space.key(a) not in done.done_keys()]:
                print(f"{name} replicate {replicate}: all {len(archs)} done", file=sys.stderr, flush=True)
                return path
    with BenchmarkFile(path, readonly=False) as bench:
        if not bench.meta():
            bench.set_meta({"recipe_name": name, "recipe": cand.recipe.to_dict(), "eval": cand.eval,
                            "dataset": cand.dataset, "replicate": replicate})
        done = bench.done_keys()
        todo = [(a, replicate) for a in archs if space.key(a) not in done]
        print(f"{name} replicate {replicate}: {len(archs) - len(todo)} done, {len(todo)} to build", file=sys.stderr,
              flush=True)
        began = time.time()
        with create_backend("local", workers, None, tasks_per_worker=100) as backend:
            for i, (_, result) in enumerate(backend.imap_unordered(builder, todo), 1):
                bench.add(result)
                if i % 25 == 0:
                    print(f"  {i}/{len(todo)} in {time.time() - began:.0f} s", file=sys.stderr, flush=True)
    return path


def time_cells(cand: Candidate, archs: list[str], keep: Path) -> dict[str, float]:
    """CPU-seconds of each protocol cell alone (clean; each attack at each radius), mean over ``archs``,
    on the networks replicate 0 trained (one thread)."""
    torch.set_num_threads(1)
    dataset = load_configured(DataConfig(name=cand.dataset, train_size=cand.recipe.train_size,
                                         test_size=cand.recipe.test_size, resize=cand.recipe.resize), "cpu", 0)
    protocol = resolve_protocol("eval", cand.eval)
    space = get_space("nb201")
    totals: dict[str, float] = {}
    for arch in archs:
        model, _ = load_model(weights_file(keep, space.key(arch)))
        model.eval()
        began = time.process_time()
        with torch.no_grad():
            for start in range(0, len(dataset.test), 256):
                model(dataset.test.float_images(torch.arange(start, min(start + 256, len(dataset.test)))))
        totals["clean"] = totals.get("clean", 0.0) + time.process_time() - began
        for tm in protocol.threat_models:
            for eps in tm.radii:
                single = dataclasses.replace(tm, radii=(eps,))
                began = time.process_time()
                evaluate_threat_model(model, dataset.test, single, dataset.num_classes, seed=0, lockstep=False)
                key = f"{tm.key}@{eps.label}"
                totals[key] = totals.get(key, 0.0) + time.process_time() - began
    return {k: v / len(archs) for k, v in totals.items()}


def time_runs(cand: Candidate, archs: list[str]) -> dict[str, float]:
    """CPU-seconds of a whole run (training, the whole evaluation) per architecture, in this process on one thread,
    mean over ``archs`` (take it on an idle machine: ``--time``)."""
    torch.set_num_threads(1)
    builder = ArchBuilder(space="nb201", data={"name": cand.dataset, "train_size": cand.recipe.train_size,
                                               "test_size": cand.recipe.test_size, "resize": cand.recipe.resize},
                          recipe=cand.recipe.to_dict(), protocol="eval", eval=cand.eval, seed=0, threads=1)
    builder(archs[0])  # warm-up: data loading, first-call costs
    infos = [builder(arch).info for arch in archs]
    return {"train": float(np.mean([i["train_cpu_seconds"] for i in infos])),
            "eval": float(np.mean([i["eval_cpu_seconds"] for i in infos]))}


def _columns(path: Path) -> tuple[list[str], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(arch strings, measure -> values in arch order, cost -> seconds) of one pilot file."""
    with BenchmarkFile(path) as bench:
        rows = bench.arch_rows(("row", "arch", "status", "train_seconds", "eval_seconds"))
        order = {row[0]: i for i, row in enumerate(rows)}
        replicate = bench.replicates()[0]  # each pilot file holds one replicate
        values: dict[str, np.ndarray] = {}
        for key, measure in bench.result_keys():
            if measure != "accuracy":
                continue
            found = bench.column(key, measure, replicate)
            assert found is not None
            idx = np.array([order[r] for r in found[0]])
            column = np.full((len(rows), *found[1].shape[1:]), np.nan)
            column[idx] = found[1]
            if key == "clean":
                values["clean"] = column
            else:
                axis = bench.meta()["eval"]["eps"]
                for j, eps in enumerate(axis):
                    values[f"{key}@{Eps.parse(eps).label}"] = column[:, j]
        costs = {"train": np.array([r[3] or np.nan for r in rows]), "eval": np.array([r[4] or np.nan for r in rows])}
    return [r[1] for r in rows], values, costs


def report(out: Path, names: list[str], archs: list[str], reference: dict[int, float], resamples: int = 1000
           ) -> dict[str, Any]:
    """Per candidate with both replicates built: replicate taus, transfer tau, spread, cost."""
    cifar = np.array([reference[representative_of(index_of(a))] for a in archs])
    space = get_space("nb201")
    params = np.array([space.count_params(a, num_classes=10, in_channels=1, C=8, N=1) for a in archs], dtype=float)
    table: dict[str, Any] = {}
    for name in names:
        files = [out / f"{name}-r{r}.sqlite" for r in (0, 1)]
        if not all(f.exists() for f in files):
            continue
        parts = [_columns(f) for f in files]
        position = [{a: i for i, a in enumerate(p[0])} for p in parts]
        common = [a for a in archs if all(a in pos for pos in position)]
        if len(common) < 10:
            continue
        take = [np.array([pos[a] for a in common]) for pos in position]
        sel = np.array([archs.index(a) for a in common])
        counts = resample_counts(len(common), resamples, seed=0)
        cand = CANDIDATES[name]
        row: dict[str, Any] = {"archs": len(common), "headline": cand.headline, "measures": {}}
        for measure in parts[0][1]:
            a, b = (parts[k][1][measure][take[k]] for k in (0, 1))
            mean = (a + b) / 2
            rep = bootstrap_taus(a, b, counts)
            transfer = bootstrap_taus(mean, cifar[sel], counts)
            row["measures"][measure] = {
                "replicate_tau": kendall_tau(a, b), "replicate_tau_ci": interval(rep, 0.95),
                "cifar10_tau": kendall_tau(mean, cifar[sel]), "cifar10_tau_ci": interval(transfer, 0.95),
                "params_tau": kendall_tau(mean, params[sel]),
                "p10_p50_p90": [float(np.percentile(mean, q)) for q in (10, 50, 90)],
                "replicate_sd": float(np.sqrt(np.mean((a - b) ** 2) / 2)), "sd_over_cells": float(np.std(mean)),
            }
        row["train_seconds"] = float(np.nanmean(np.concatenate([parts[k][2]["train"][take[k]] for k in (0, 1)])))
        row["eval_seconds"] = float(np.nanmean(np.concatenate([parts[k][2]["eval"][take[k]] for k in (0, 1)])))
        cells = out / f"{name}-cells.json"
        row["cell_seconds"] = json.loads(cells.read_text()) if cells.exists() else {}
        runs = out / f"{name}-cpu.json"
        if runs.exists():  # CPU-seconds measured idle (--time) replace the wall seconds taken under load
            cpu = json.loads(runs.read_text())
            row["train_seconds"], row["eval_seconds"], row["cpu_measured"] = cpu["train"], cpu["eval"], True
        table[name] = row
    return table


def print_table(table: dict[str, Any]) -> None:
    print("| recipe | cells | tau rep clean | tau rep headline | headline | tau CIFAR clean | tau CIFAR headline | "
          "tau params | clean p10/50/90 | headline p10/50/90 | rep SD clean / headline | train s | eval s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, row in table.items():
        c, h = row["measures"]["clean"], row["measures"][row["headline"]]

        def ci(m: dict[str, Any], k: str) -> str:
            return f"{m[k]:.2f} [{m[k + '_ci'][0]:.2f}, {m[k + '_ci'][1]:.2f}]"

        print(f"| {name} | {row['archs']} | {ci(c, 'replicate_tau')} | {ci(h, 'replicate_tau')} | {row['headline']} | "
              f"{ci(c, 'cifar10_tau')} | {ci(h, 'cifar10_tau')} | {c['params_tau']:.2f} | "
              f"{'/'.join(f'{100 * v:.0f}' for v in c['p10_p50_p90'])} | "
              f"{'/'.join(f'{100 * v:.0f}' for v in h['p10_p50_p90'])} | "
              f"{100 * c['replicate_sd']:.1f} / {100 * h['replicate_sd']:.1f} | {row['train_seconds']:.1f} | "
              f"{row['eval_seconds']:.1f} |")
    print()
    print("Every measure (replicate tau | tau vs CIFAR-10 of the replicate mean | median):")
    for name, row in table.items():
        print(f"  {name}: " + "; ".join(f"{m} {v['replicate_tau']:.2f} | {v['cifar10_tau']:.2f} | "
                                        f"{100 * v['p10_p50_p90'][1]:.0f}%" for m, v in row["measures"].items()))
        if row["cell_seconds"]:
            print("    CPU-s per cell: " + ", ".join(f"{k} {v:.2f}" for k, v in row["cell_seconds"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="build/pilot")
    parser.add_argument("--archs", type=int, default=150)
    parser.add_argument("--recipes", default=",".join(CANDIDATES))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timed", type=int, default=4, help="networks each protocol cell is timed on")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--time", action="store_true", help="time whole runs per recipe in this process (idle machine)")
    args = parser.parse_args()
    names = [n for n in args.recipes.split(",") if n]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        sys.exit(f"error: unknown pilot recipe {unknown}; choose from {', '.join(CANDIDATES)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    reference = nb201_cifar10()
    archs = [arch_str(i) for i in stratified_classes(args.archs, args.seed, reference)]
    (out / "archs.json").write_text(json.dumps(archs))
    if args.time:
        for name in names:
            timed = archs[:: max(1, len(archs) // args.timed)][: args.timed]
            (out / f"{name}-cpu.json").write_text(json.dumps(time_runs(CANDIDATES[name], timed), indent=1))
    if not args.report_only and not args.time:
        for name in names:
            cand = CANDIDATES[name]
            keep = out / f"{name}-weights"
            for replicate in (0, 1):
                build(name, cand, archs, replicate, out, args.workers, keep if replicate == 0 else None)
            cells = out / f"{name}-cells.json"
            if not cells.exists():
                cells.write_text(json.dumps(time_cells(cand, archs[:: max(1, len(archs) // args.timed)][: args.timed],
                                                       keep), indent=1))
            table = report(out, names, archs, reference)
            (out / "pilot.json").write_text(json.dumps(table, indent=1))
            print_table(table)
            sys.stdout.flush()
    table = report(out, names, archs, reference)
    (out / "pilot.json").write_text(json.dumps(table, indent=1))
    print_table(table)


if __name__ == "__main__":
    main()
