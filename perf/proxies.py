"""Seconds per proxy on small NAS-Bench-201 networks, to budget a rank-correlation study over the space.

Random NB201 cells (width C=8, one cell per stage, 10 digits classes, 1x8x8 inputs) at initialisation,
each proxy with its default parameters on the same 100 digits test points, one intra-op thread. A
warm-up network is measured first and discarded (the first FLOP count imports torch._dynamo, seconds
once per process). Prints the median seconds per network of each proxy and what 6466 networks take.

    .venv/bin/python perf/proxies.py [--networks 8] [--points 100]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

from robnas.data import load_dataset
from robnas.models import create_model
from robnas.proxies import compute, get_proxy, list_proxies
from robnas.spaces import get_space

UNIQUE_NB201 = 6466
# Cheaper settings, and one product per power iteration to read the cost of a Hessian-vector product.
VARIANTS = {"jacobian (projections=1)": ("jacobian", {"projections": 1}),
            "hessian (iterations=20)": ("hessian", {"iterations": 20}),
            "hessian (iterations=1)": ("hessian", {"iterations": 1}),
            "hessian-weights (iterations=20)": ("hessian-weights", {"iterations": 20}),
            "hessian-weights (iterations=1)": ("hessian-weights", {"iterations": 1})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=8)
    parser.add_argument("--points", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_dataset("digits")
    x, y = data.test.float_images()[:args.points], data.test.labels[:args.points]
    space = get_space("nb201")
    rng = random.Random(0)
    archs = [str(space.sample(rng)) for _ in range(args.networks + 1)]
    runs = {name: (name, {}) for name in list_proxies()} | VARIANTS
    seconds: dict[str, list[float]] = {label: [] for label in runs}
    for i, arch in enumerate(archs):
        torch.manual_seed(i)
        model = create_model("nb201", arch=arch, C=8, N=1, num_classes=10, in_channels=1,
                             mean=data.mean, std=data.std)
        for label, (name, params) in runs.items():
            started = time.perf_counter()
            compute(name, model, x, y, **params)
            if i:  # the first network is the warm-up
                seconds[label].append(time.perf_counter() - started)
    print(f"{args.networks} random NB201 networks (C=8, N=1), {args.points} digits points, 1 thread, at init")
    print("| proxy | higher is | median s / network | min | max | x 6466 networks (h) |")
    print("|---|---|---|---|---|---|")
    for label, (name, _) in runs.items():
        values = seconds[label]
        median = statistics.median(values)
        print(f"| {label} | {get_proxy(name).higher_is} | {median:.4f} | {min(values):.4f} | {max(values):.4f} "
              f"| {median * UNIQUE_NB201 / 3600:.2f} |")


if __name__ == "__main__":
    main()
