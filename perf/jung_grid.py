"""The Jung et al. grid on one small network: cell after cell vs lockstep vs nested (prints figures; not a test).

The network of the performance issue: NB201 C=8, N=1 (the all-``nor_conv_3x3`` cell unless ``--arch``),
trained 10 epochs on 1000 digits; 100 test points. In one run:

* ``sequential``: every (threat model, radius) cell after the other, each on the eager model
  (what ``robnas eval`` did before lockstep);
* ``lockstep``: the same cells together, one batched model call per round, plain forwards through the
  frozen inference graph -- goal <= 0.25x sequential, with identical per-radius accuracies;
* ``nested``: radii in increasing order, broken points carried over (accuracies monotone, never above
  independent mode's for deterministic attacks).

    .venv/bin/python perf/jung_grid.py [--protocol jung] [--points 100] [--threads 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace

import torch

from robnas.data import load_dataset
from robnas.data.split import subset
from robnas.evaluation import evaluate, get_protocol
from robnas.spaces import get_space
from robnas.store.run_dir import RunDir
from robnas.train import train_model
from robnas.train.recipes import get_recipe

ALL_CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
GOAL = 0.25


def trained_network(arch: str, seed: int = 0) -> tuple[torch.nn.Module, object]:
    data = load_dataset("digits", train_size=1000, test_size=100, seed=seed)
    recipe = get_recipe("digits-tiny", {"train": {"epochs": 10}})
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = get_space("nb201").build(arch, num_classes=10, in_channels=1, mean=data.mean, std=data.std,
                                         **recipe.build)
    with tempfile.TemporaryDirectory() as tmp:
        train_model(model, data.train, data.test, recipe.train, RunDir(tmp, quiet=True), seed=seed, quiet=True)
    return model.eval(), data


def accuracies(record: object) -> dict[str, list[float]]:
    return {key: [m.accuracy for _, m in sorted(t.by_eps.items())] for key, t in record.threat_models.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", default="jung")
    parser.add_argument("--arch", default=ALL_CONV)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, data = trained_network(args.arch)
    split = subset(data.test, min(args.points, len(data.test)), 0)
    protocol = get_protocol(args.protocol).with_corruptions(())
    print(f"protocol {protocol.name}: {sum(len(t.radii) for t in protocol.threat_models)} cells, {len(split)} points, "
          f"{args.threads} thread(s)")
    runs = {}
    for label, mode, lockstep in (("sequential", "independent", False), ("lockstep", "independent", True),
                                  ("nested", "nested", True)):
        started = time.perf_counter()
        record = evaluate(model, split, replace(protocol, mode=mode), 10, seed=0, quiet=True, reliability=False,
                          lockstep=lockstep)
        runs[label] = (time.perf_counter() - started, record)
        print(f"  {label:<10} {runs[label][0]:8.1f} s   clean {record.clean.accuracy:.0f}%")
    base = runs["sequential"][0]
    same = accuracies(runs["lockstep"][1]) == accuracies(runs["sequential"][1])
    ratio = runs["lockstep"][0] / base
    print(f"lockstep / sequential: {ratio:.2f}x (goal <= {GOAL}x: {'met' if ratio <= GOAL else 'NOT met'}); "
          f"per-radius accuracies identical: {same}")
    print(f"nested / sequential:   {runs['nested'][0] / base:.2f}x")
    for key, accs in accuracies(runs["sequential"][1]).items():
        print(f"  {key:<18} independent {accs}")
        print(f"  {'':<18} nested      {accuracies(runs['nested'][1])[key]}")


if __name__ == "__main__":
    main()
