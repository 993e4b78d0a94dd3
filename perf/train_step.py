"""Where a small network's training step spends its time on the CPU, and what takes the overhead out.

The benchmark builder trains thousands of tiny networks (NB201 C=8, N=1 on 8x8 digits, batch 64); a
training step is ~100 aten calls on tensors of a few KB, so Python and dispatch overhead may matter as
much as the kernels. For each variant this prints ms per step (median of ``--steps`` after a warm-up)
and the share of the step spent inside aten kernels (torch.profiler's self CPU time of aten ops
over the profiled wall time):

* ``baseline``: what robnas's trainer does (SGD with momentum, default implementation, fp32,
  contiguous tensors, cross-entropy, gradient clipping);
* ``foreach``: SGD with the multi-tensor (``foreach``) implementation;
* ``channels_last``: model and inputs in channels-last memory format;
* ``compiled``: ``torch.compile`` (inductor, C++ codegen) of the model's forward and backward;
* ``no-clip``: without gradient clipping (its norm is one more pass over every parameter).

    .venv/bin/python perf/train_step.py [--model nb201|darts] [--steps 60] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from robnas.models import create_model
from robnas.spaces import get_space

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"


def network(kind: str) -> nn.Module:
    torch.manual_seed(0)
    if kind == "nb201":
        return get_space("nb201").build(ARCH, num_classes=10, in_channels=1, C=8, N=1)
    return create_model("darts_v2", num_classes=10, in_channels=1, C=8, layers=5)


def step_fn(model: nn.Module, foreach: bool, clip: bool, memory_format: torch.memory_format,
            ) -> Callable[[torch.Tensor, torch.Tensor], None]:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=3e-4, foreach=foreach)

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        out = model(x.contiguous(memory_format=memory_format))
        loss = F.cross_entropy(out[0] if isinstance(out, tuple) else out, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
    return step


def measure(step: Callable[[torch.Tensor, torch.Tensor], None], steps: int) -> tuple[float, float]:
    from torch.profiler import ProfilerActivity, profile

    gen = torch.Generator().manual_seed(1)
    x, y = torch.rand(64, 1, 8, 8, generator=gen), torch.randint(0, 10, (64,), generator=gen)
    for _ in range(5):
        step(x, y)
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        step(x, y)
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(10):
            step(x, y)
    wall = time.perf_counter() - started
    kernels = sum(e.self_cpu_time_total for e in prof.key_averages() if e.key.startswith("aten::")) / 1e6
    return statistics.median(times), kernels / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("nb201", "darts"), default="nb201")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    variants = {
        "baseline": dict(foreach=False, clip=True, memory_format=torch.contiguous_format, compiled=False),
        "foreach": dict(foreach=True, clip=True, memory_format=torch.contiguous_format, compiled=False),
        "channels_last": dict(foreach=False, clip=True, memory_format=torch.channels_last, compiled=False),
        "no-clip": dict(foreach=False, clip=False, memory_format=torch.contiguous_format, compiled=False),
        "compiled": dict(foreach=True, clip=True, memory_format=torch.contiguous_format, compiled=True),
    }
    print(f"{args.model}, batch 64 of 1x8x8, {args.threads} thread(s); ms per step (median of {args.steps}) and the "
          "share of the step inside aten kernels")
    base = None
    for name, v in variants.items():
        model = network(args.model).train()
        if v["memory_format"] is torch.channels_last:
            model = model.to(memory_format=torch.channels_last)
        target = model
        if v["compiled"]:
            try:
                target = torch.compile(model)
            except Exception as exc:  # noqa: BLE001 -- a missing compiler is a result to print
                print(f"  {name:<14} unavailable: {type(exc).__name__}: {exc}")
                continue
        began = time.perf_counter()
        try:
            seconds, share = measure(step_fn(target, v["foreach"], v["clip"], v["memory_format"]) if not v["compiled"]
                                     else _compiled_step(target, model, v), args.steps)
        except Exception as exc:  # noqa: BLE001
            print(f"  {name:<14} failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
            continue
        base = base or seconds
        extra = f" (including {time.perf_counter() - began:.0f} s of compilation and measuring)" if v["compiled"] else ""
        print(f"  {name:<14} {1e3 * seconds:7.2f} ms  = {seconds / base:.2f}x baseline,  kernels {100 * share:4.0f}%"
              f"{extra}", flush=True)


def _compiled_step(compiled: nn.Module, model: nn.Module, v: dict) -> Callable[[torch.Tensor, torch.Tensor], None]:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=3e-4, foreach=v["foreach"])

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        loss = F.cross_entropy(compiled(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
    return step


if __name__ == "__main__":
    main()
