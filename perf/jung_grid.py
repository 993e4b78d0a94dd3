"""The Jung et al. grid on one small network: today's engine against an older commit's (prints figures; not a test).

The network of the performance issue: NB201 C=8, N=1 (the all-``nor_conv_3x3`` cell unless ``--arch``),
trained 10 epochs on 1000 digits; 100 test points; the ``jung`` protocol's 32 cells (FGSM at 11 radii,
PGD-10, APGD-CE 100 x 1 and Square 5000 at 7), no corruptions. In one run, alternating:

* ``before``: the older commit (``--before``, a git worktree; default e005a94: cell after cell on the
  eager model, what ``robnas eval`` did before lockstep), in a subprocess on the same weights and points;
* ``after``: today's ``evaluate`` (lockstep, ONNX Runtime or the frozen graph for plain forwards, the
  channels-last gradient copy, Square's skipped repeats) -- goal <= 0.35x, with identical per-radius
  accuracies;
* with ``--nested``: today's nested mode (radii in increasing order, broken points carried over).

    git worktree add /tmp/e005a94 e005a94
    .venv/bin/python perf/jung_grid.py [--before /tmp/e005a94] [--rounds 1] [--points 100] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

ALL_CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
GOAL = 0.35


def trained_network(arch: str, seed: int = 0) -> tuple[torch.nn.Module, object]:
    from robnas.data import load_dataset
    from robnas.spaces import get_space
    from robnas.store.run_dir import RunDir
    from robnas.train import train_model
    from robnas.train.recipes import get_recipe

    data = load_dataset("digits", train_size=1000, test_size=100, seed=seed)
    recipe = get_recipe("digits-tiny", {"train": {"epochs": 10}})
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = get_space("nb201").build(arch, num_classes=10, in_channels=1, mean=data.mean, std=data.std,
                                         **recipe.build)
    with tempfile.TemporaryDirectory() as tmp:
        train_model(model, data.train, data.test, recipe.train, RunDir(tmp, quiet=True), seed=seed, quiet=True)
    return model.eval(), data


def old_worker(state_path: str) -> None:
    """Runs inside the older tree: rebuild the network, load the weights, time the grid cell after cell."""
    from robnas.data import Split
    from robnas.evaluation.threat_models import evaluate_threat_models, protocol
    from robnas.spaces import get_space

    state = torch.load(state_path, weights_only=True)
    torch.set_num_threads(state["threads"])
    model = get_space("nb201").build(state["arch"], num_classes=10, in_channels=1, mean=state["mean"],
                                     std=state["std"], C=8, N=1)
    model.load_state_dict(state["weights"])
    split = Split(state["images"], state["labels"])
    started = time.perf_counter()
    results = evaluate_threat_models(model.eval(), split, protocol("jung"), 10, seed=0, quiet=True)
    seconds = time.perf_counter() - started
    # Rounded: that commit computed percentages from float fractions (99.00000002 for 99 of 100).
    accuracies = {k: [round(a, 6) for a in v["accuracy"]] for k, v in results.items() if k != "clean"}
    print(json.dumps({"seconds": seconds, "accuracies": accuracies}))


def run_before(tree: Path, state_path: str) -> tuple[float, dict[str, list[float]]]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    out = subprocess.run([sys.executable, __file__, "--old-worker", state_path], env=env, check=True,
                         capture_output=True, text=True, cwd=str(tree)).stdout
    answer = json.loads(out.strip().splitlines()[-1])
    return answer["seconds"], answer["accuracies"]


def accuracies(record: object) -> dict[str, list[float]]:
    return {key: [round(m.accuracy, 6) for _, m in sorted(t.by_eps.items())] for key, t in record.threat_models.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, default=Path("/tmp/e005a94"), help="worktree of the older commit")
    parser.add_argument("--arch", default=ALL_CONV)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1, help="before/after pairs, alternating (ABBA...)")
    parser.add_argument("--nested", action="store_true")
    parser.add_argument("--old-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.old_worker:
        old_worker(args.old_worker)
        return
    from robnas.data.split import subset
    from robnas.evaluation import evaluate, get_protocol

    torch.set_num_threads(args.threads)
    model, data = trained_network(args.arch)
    split = subset(data.test, min(args.points, len(data.test)), 0)
    protocol = get_protocol("jung").with_corruptions(())
    print(f"protocol jung: {sum(len(t.radii) for t in protocol.threat_models)} cells, {len(split)} points, "
          f"{args.threads} thread(s); before = {args.before}")
    times: dict[str, list[float]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        state_path = str(Path(tmp) / "state.pt")
        torch.save({"arch": args.arch, "weights": model.state_dict(), "mean": list(data.mean), "std": list(data.std),
                    "images": split.images, "labels": split.labels, "threads": args.threads}, state_path)
        for r in range(args.rounds):
            for side in (("before", "after") if r % 2 == 0 else ("after", "before")):
                if side == "before":
                    seconds, old = run_before(args.before, state_path)
                else:
                    started = time.perf_counter()
                    record = evaluate(model, split, protocol, 10, seed=0, quiet=True, reliability=False)
                    seconds = time.perf_counter() - started
                times[side].append(seconds)
                print(f"  {side:<7} {seconds:8.1f} s", flush=True)
    before, after = statistics.median(times["before"]), statistics.median(times["after"])
    ours = accuracies(record)
    same = all(ours[k] == old[k] for k in ours)
    ratio = after / before
    print(f"after / before: {ratio:.2f}x (goal <= {GOAL}x: {'met' if ratio <= GOAL else 'NOT met'}); "
          f"per-radius accuracies identical: {same}")
    for key, accs in ours.items():
        print(f"  {key:<18} after  {accs}")
        if accs != old[key]:
            print(f"  {'':<18} before {old[key]}")
    if args.nested:
        started = time.perf_counter()
        nested = evaluate(model, split, replace(protocol, mode="nested"), 10, seed=0, quiet=True, reliability=False)
        print(f"nested: {time.perf_counter() - started:.1f} s; {accuracies(nested)}")


if __name__ == "__main__":
    main()
