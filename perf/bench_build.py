"""Benchmark-build throughput: architectures per minute on 1 and 2 workers, and where the time goes.

Builds the same stratified sample of NAS-Bench-201 architectures with the shipped benchmark's recipe and
protocol (``digits-tiny``, ``jung-digits``, the proxies of the shipped benchmark) twice -- once with one
worker, once with two -- into fresh files, and prints:

* architectures per minute for each, and the 2-worker speed-up (goal >= 1.7x);
* the share of the build's wall time that workers spend inside each architecture's training,
  proxies and evaluation (everything else is start-up, data loading, process overhead and database
  writes; goal >= 80%), from the timings every architecture records;
* the FLOP rate candidate training reaches (3 x forward FLOPs per sample x samples trained / training
  seconds) as a share of the machine's peak, measured with a large single-thread matmul in the same run
  (one worker uses one core);
* from a profile of one architecture, the share of its time inside aten kernels.

    python perf/bench_build.py [--archs 12]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

PROXIES = "jacobian,hessian,hessian-weights,curvature,synflow,jacob_cov,grad_norm,params,flops"


def peak_flops(size: int = 1024, repeats: int = 5) -> float:
    """Single-thread float32 matmul FLOP rate (2 n^3 per product), best of ``repeats``."""
    torch.set_num_threads(1)
    a, b = torch.randn(size, size), torch.randn(size, size)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best


def build(directory: Path, archs: int, workers: int) -> tuple[float, Path]:
    path = directory / f"w{workers}.sqlite"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "robnas.cli", "bench", "build", str(path), "--sample", str(archs),
                    "--workers", str(workers), "--proxies", PROXIES, "--quiet"], check=True)
    return time.perf_counter() - started, path


def inside_share(path: Path, wall: float, workers: int) -> tuple[float, float]:
    """(share of worker time inside train + proxies + evaluation, training FLOP/s per worker)."""
    import robnas.bench as bench

    with bench.open(path) as b:
        train = b.column("train_seconds")
        evaluation = b.column("eval_seconds")
        flops = b.column("flops")
        proxy_keys = [k for k in b.meta["axes"] if k.startswith("proxy:")]
        proxies = sum(b.info(f"proxy_seconds:{k[len('proxy:'):]}") for k in proxy_keys)
        recipe = b.meta["recipe"]
    samples = recipe["train_size"] * recipe["train"]["epochs"]
    inside = float(np.nansum(train) + np.nansum(evaluation) + np.nansum(proxies))
    # count_flops counts a multiply-add as 2; a training step is about 3 forwards (forward + backward)
    rate = float(np.nansum(3 * flops * samples) / max(np.nansum(train), 1e-9))
    return inside / (wall * workers), rate


def kernel_share() -> float:
    """Share of one architecture's build (train + evaluate) spent in aten kernels (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile

    from robnas.bench.builder import ArchBuilder
    from robnas.train.recipes import get_recipe

    recipe = get_recipe("digits-tiny")
    builder = ArchBuilder(space="nb201", data={"name": "digits", "train_size": recipe.train_size,
                                               "test_size": recipe.test_size}, recipe=recipe.to_dict(),
                          protocol="jung-digits", seed=0)
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"
    builder(arch)  # warm-up: data loading, imports
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        builder(arch)
    wall = time.perf_counter() - start
    kernels = sum(e.self_cpu_time_total for e in prof.key_averages() if e.key.startswith("aten::")) / 1e6
    return kernels / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=12)
    args = parser.parse_args()
    peak = peak_flops()
    with tempfile.TemporaryDirectory() as tmp:
        rows = {}
        for workers in (1, 2):
            wall, path = build(Path(tmp), args.archs, workers)
            share, rate = inside_share(path, wall, workers)
            rows[workers] = (wall, share, rate)
    kernel = kernel_share()
    print(f"peak single-thread matmul: {peak / 1e9:.1f} GFLOP/s")
    print("| workers | wall s | archs/min | time inside train+proxies+eval | training FLOP rate (share of peak) |")
    print("|---:|---:|---:|---:|---:|")
    for workers, (wall, share, rate) in rows.items():
        print(f"| {workers} | {wall:.1f} | {60 * args.archs / wall:.2f} | {100 * share:.0f}% | "
              f"{rate / 1e9:.2f} GFLOP/s ({100 * rate / peak:.1f}%) |")
    speedup = rows[1][0] / rows[2][0]
    print(f"2 workers / 1 worker: {speedup:.2f}x (goal >= 1.7x: {'met' if speedup >= 1.7 else 'NOT met'}); "
          f"time inside the per-architecture work with 2 workers: {100 * rows[2][1]:.0f}% (goal >= 80%: "
          f"{'met' if rows[2][1] >= 0.8 else 'NOT met'})")
    print(f"one architecture's train + evaluate, time in aten kernels: {100 * kernel:.0f}%")
    print(json.dumps({"archs": args.archs, "rows": rows, "kernel_share": kernel, "peak_flops": peak}))


if __name__ == "__main__":
    main()
