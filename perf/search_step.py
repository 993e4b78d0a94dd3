"""Cost of one search iteration per method, on the same supernet and batch (prints a table; not a test).

Rows: DARTS first order, DARTS second order (unrolled), AdvRush (first order, regulariser on), RNAS
(a search iteration: PGD examples for the weight step and the adversarial architecture loss) and an
RNAS projection iteration. Each row runs in a fresh process, so its peak memory is its own:

* CPU: peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) after the steps (one
  untimed warm-up, then the timed ones) minus the peak RSS after building the supernet, the
  optimisers and the batch, i.e. the extra memory a step (autograd graph, optimiser state) needs;
* CUDA: ``torch.cuda.max_memory_allocated`` after the steps minus the allocation before them.

Also measured, in this process: the supernet's forward time against the sum of its operations' own
forward times on the same inputs (the candidate ops, each cell's preprocessing, the stem, the NB201
stage blocks, pooling and classifier) (target <= 1.2x: the mixing, the cell plumbing
and Python add little; CPU time of the process, median of repeats), and AdvRush step / first-order
step (target <= 3x). Step times are wall-clock medians.

    .venv/bin/python perf/search_step.py [--space darts] [--C 8] [--layers 5] [--batch 32]
                                               [--size 16] [--steps 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import torch
from torch import nn

from robnas.device import resolve_device
from robnas.search.differentiable import AdvRushTerm, BilevelSearch, RNASTerm, SearchSettings, StepInfo
from robnas.spaces import get_space
from robnas.spaces.darts.ops import Zero
from robnas.spaces.darts.supernet import SearchCell
from robnas.spaces.mixed import MixedOp
from robnas.spaces.nb201.supernet import NB201SearchCell

METHODS = ("darts-1st", "darts-2nd", "advrush", "rnas", "rnas-projection")


def _setup(args: argparse.Namespace, device: torch.device) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    torch.manual_seed(0)
    net = get_space(args.space).supernet(num_classes=10, in_channels=3, mean=[0.5] * 3, std=[0.25] * 3, C=args.C,
                                         layers=args.layers, partial_channels=args.partial_channels).to(device)
    gen = torch.Generator().manual_seed(0)
    batch = tuple(t.to(device) for t in (torch.rand(args.batch, 3, args.size, args.size, generator=gen),
                                         torch.randint(0, 10, (args.batch,), generator=gen),
                                         torch.rand(args.batch, 3, args.size, args.size, generator=gen),
                                         torch.randint(0, 10, (args.batch,), generator=gen)))
    return net, batch


def _search_for(method: str, net: nn.Module) -> tuple[BilevelSearch, int]:
    """The search object of ``method`` and the iteration index to time (RNAS: 0 searches, 1 projects)."""
    order = 2 if method == "darts-2nd" else 1
    terms: list = []
    if method == "advrush":
        terms = [AdvRushTerm(warmup_epochs=0)]
    elif method.startswith("rnas"):
        terms = [RNASTerm(warmup_epochs=0, projection_fraction=0.5, projection_iters=1, bound=0.0)]
    return BilevelSearch(net, SearchSettings(epochs=1, order=order), terms), int(method == "rnas-projection")


def _rss_bytes() -> int:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure_one(method: str, args: argparse.Namespace) -> dict[str, Any]:
    device = resolve_device(args.device)
    net, (xw, yw, xa, ya) = _setup(args, device)
    search, step = _search_for(method, net)
    info = StepInfo(epoch=0, epochs=1, step=step, steps=2, seed=0)
    # The baseline is taken before the first step: ru_maxrss is a high-water mark, so a warm-up step
    # measured afterwards would already have set it.
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = _rss_bytes()
    search.step(xw, yw, xa, ya, info)  # warm-up (untimed): allocator pools, lazy initialisation
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        search.step(xw, yw, xa, ya, info)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else _rss_bytes()
    return {"method": method, "seconds": statistics.median(times), "peak_mb": (peak - base) / 2**20}


def advrush_breakdown(args: argparse.Namespace) -> dict[str, float]:
    """Where an AdvRush iteration's time goes, each phase timed on its own (median of ``--steps``): the
    weight step, the architecture loss's forward, the input gradient at x (double-backward graph), the
    forward and input gradient at x + h z, and the backward of the whole objective to the alphas."""
    import torch.nn.functional as F

    from robnas.nn.double_backward import constant, lean_double_backward
    from robnas.proxies.curvature import curvature_direction, summed_cross_entropy

    def lean(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        with lean_double_backward():
            return model(x)

    device = resolve_device(args.device)
    net, (xw, yw, xa, ya) = _setup(args, device)
    search, _ = _search_for("advrush", net)
    info = StepInfo(epoch=0, epochs=1, step=0, steps=2, seed=0)
    search.step(xw, yw, xa, ya, info)  # warm-up
    phases: dict[str, list[float]] = {}

    def clock(name: str, fn: Any) -> Any:
        start = time.perf_counter()
        out = fn()
        phases.setdefault(name, []).append(time.perf_counter() - start)
        return out

    h = 1.5
    for _ in range(args.steps):
        net.train()
        clock("weight step (forward + backward)", lambda: search.weight_step(xw, yw, info, {}))
        # As the search does: weights held constant, forwards in the lean double-backward scope.
        with constant(search.weights):
            leaf = xa.detach().requires_grad_(True)
            logits = clock("architecture loss forward", lambda: lean(net, leaf))
            grad = clock("input gradient at x (create_graph)", lambda: torch.autograd.grad(
                summed_cross_entropy(logits, ya), leaf, create_graph=True)[0])
            shifted = (xa + h * curvature_direction(grad)).requires_grad_(True)

            def at_shift() -> torch.Tensor:
                return torch.autograd.grad(summed_cross_entropy(lean(net, shifted), ya), shifted,
                                           create_graph=True)[0]
            grad2 = clock("forward + input gradient at x + hz", at_shift)
            objective = F.cross_entropy(logits, ya) + 0.01 * (grad2 - grad).flatten(1).norm(dim=1).mean()
            clock("backward of the objective to the alphas", lambda: torch.autograd.grad(objective, search.alphas))
    return {name: statistics.median(times) for name, times in phases.items()}


def _operations(net: nn.Module) -> list[nn.Module]:
    """The modules that compute: every live candidate op (Zero is skipped by the mixed op itself), each
    cell's preprocessing, and the stem / stage blocks / pooling / classifier around the cells."""
    ops: list[nn.Module] = [op for mixed in net.modules() if isinstance(mixed, MixedOp)
                            for op in mixed.ops if not isinstance(op, Zero)]
    for name, child in net.named_children():
        blocks = child if name in ("cells", "blocks") else [child]
        for block in blocks:
            if isinstance(block, (SearchCell, NB201SearchCell)):
                ops.extend(m for n, m in block.named_children() if n != "edges")
            else:
                ops.append(block)
    return ops


def forward_vs_ops(args: argparse.Namespace) -> tuple[float, float]:
    """(supernet forward seconds, sum of its operations' forward seconds on the same inputs)."""
    device = resolve_device(args.device)
    net, (x, *_) = _setup(args, device)
    inputs: list[tuple[nn.Module, torch.Tensor]] = []
    hooks = [op.register_forward_pre_hook(lambda m, a: inputs.append((m, a[0])))
             for op in _operations(net)]
    with torch.no_grad():
        net(x)
    for hook in hooks:
        hook.remove()

    # CPU time of this process on CPU (one thread): time slices lost to other processes on a shared
    # machine would otherwise count against the long supernet forward far more than the short op calls.
    clock = time.perf_counter if device.type == "cuda" else time.process_time

    def timed(fn, repeats: int) -> float:
        fn()
        samples = []
        for _ in range(repeats):
            start = clock()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            samples.append(clock() - start)
        return statistics.median(samples)

    with torch.no_grad():
        whole = timed(lambda: net(x), args.steps + 2)
        ops = sum(timed(lambda m=m, h=h: m(h), args.steps + 2) for m, h in inputs)
    return whole, ops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", default="darts", choices=("darts", "nb201"))
    parser.add_argument("--C", type=int, default=8)
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--partial-channels", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=16, help="image side (3 channels)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per method (median)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--one", choices=METHODS, help=argparse.SUPPRESS)  # internal: one row in this process
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.one:
        print(json.dumps(measure_one(args.one, args)))
        return
    rows = []
    passthrough = [a for a in sys.argv[1:]]
    for method in METHODS:
        out = subprocess.run([sys.executable, __file__, *passthrough, "--one", method], capture_output=True,
                             text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    whole, ops = forward_vs_ops(args)
    first = rows[0]["seconds"]
    print(f"supernet {args.space} C={args.C} layers={args.layers} partial_channels={args.partial_channels}, "
          f"batch {args.batch} x 3x{args.size}x{args.size}, {args.threads} thread(s), device {args.device}")
    print(f"{'method':<17}{'s/step':>9}{'x 1st-order':>13}{'peak MB':>10}")
    for r in rows:
        print(f"{r['method']:<17}{r['seconds']:>9.3f}{r['seconds'] / first:>13.2f}{r['peak_mb']:>10.1f}")
    advrush = next(r for r in rows if r["method"] == "advrush")["seconds"] / first
    print(f"supernet forward {whole * 1e3:.1f} ms vs sum of its ops' forwards {ops * 1e3:.1f} ms: "
          f"{whole / ops:.2f}x (target <= 1.2x)")
    print(f"AdvRush step / first-order step: {advrush:.2f}x (target <= 3x)")
    parts = advrush_breakdown(args)
    total = sum(parts.values())
    print("AdvRush iteration, phase by phase (each timed alone; shares of their sum):")
    for name, seconds in parts.items():
        print(f"  {name:<42}{seconds:8.3f} s  {100 * seconds / total:5.1f}%")
    print("peak MB: CPU = peak RSS growth over the post-setup RSS in a fresh process per row "
          "(resource.getrusage ru_maxrss); CUDA = torch.cuda.max_memory_allocated growth")


if __name__ == "__main__":
    main()
