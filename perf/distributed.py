"""Data-parallel training and distributed evaluation, 1 vs 2 gloo processes on this machine, and what a step communicates.

    .venv/bin/python perf/distributed.py [--batch 128] [--steps 8] [--width 16] [--epochs 3]

robnas' own trainer (``train_model``, the code ``robnas train`` runs under torchrun) trains a
ResNet-18 of width ``--width`` on synthetic 3x32x32 images, one CPU thread per process, on 1 process
and on 2 (spawned here with the launcher's environment variables, as torchrun would set them), with
the global batch norm (the default) and with per-rank statistics (``ROBNAS_BATCH_NORM=local``).
Throughput is measured over the epochs after the first (warm-up). A control runs two independent
single-process trainings at once: on a machine shared with other jobs it shows how much parallelism
the two cores really offered during the measurement. The communication share is the
time each rank spends inside ``torch.distributed.all_reduce`` (gradients: one flat buffer per step;
global batch norm: one small message per layer and pass), as a fraction of the measured epochs;
it includes waiting for the slower rank.

Distributed evaluation: the jung-digits grid (32 attack cells and 75 corruption cells, shared round
robin between the ranks) on a trained NB201 C=8 network, 1 vs 2 processes, same accuracies.

Then, without running anything, the bytes a step communicates at paper scale: the gradient
all-reduce of a C=36, 20-cell DARTS network, the search's weights and alphas (DARTS supernet, C=16,
8 cells) and the global batch norm's messages, with the ring all-reduce's per-GPU traffic.
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import time
from typing import Any

import torch
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(rank: int, world: int, port: int, args: argparse.Namespace, batch_norm: str, out: Any) -> None:
    """One rank; ``batch_norm == "independent"``: a single-process run (the control, started ``world`` times)."""
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "ROBNAS_BATCH_NORM": batch_norm})
    if world == 1 or batch_norm == "independent":
        for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
            os.environ.pop(name)
        os.environ["ROBNAS_BATCH_NORM"] = "global"
    torch.set_num_threads(1)
    import torch.distributed as dist

    from robnas import distributed
    from robnas.data.split import Split
    from robnas.models import create_model
    from robnas.store.run_dir import RunDir
    from robnas.train.settings import TrainConfig
    from robnas.train.trainer import train_model

    distributed.setup(torch.device("cpu"))
    spent = {"all": 0.0, "gradients": 0.0}
    all_reduce, all_reduce_gradients = dist.all_reduce, distributed.all_reduce_gradients

    def timed_all_reduce(*a: Any, **kw: Any) -> Any:
        started = time.perf_counter()
        try:
            return all_reduce(*a, **kw)
        finally:
            spent["all"] += time.perf_counter() - started

    def timed_gradients(*a: Any, **kw: Any) -> None:
        before = spent["all"]
        all_reduce_gradients(*a, **kw)
        spent["gradients"] += spent["all"] - before

    dist.all_reduce = timed_all_reduce
    distributed.all_reduce_gradients = timed_gradients
    import robnas.train.trainer as trainer_module

    trainer_module.distributed.all_reduce_gradients = timed_gradients  # the trainer's own reference

    gen = torch.Generator().manual_seed(0)
    points = args.batch * args.steps
    train = Split(torch.randint(0, 256, (points, 3, 32, 32), dtype=torch.uint8, generator=gen),
                  torch.randint(0, 10, (points,), generator=gen))
    val = Split(train.images[:16], train.labels[:16])
    torch.manual_seed(0)
    model = create_model("resnet18", num_classes=10, in_channels=3, width=args.width)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch, lr=0.05, grad_clip=0.0)
    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir.create(tmp, "bench", "train", quiet=True)
        result = train_model(model, train, val, cfg, run, seed=0, quiet=True)
    measured = sum(r["seconds"] for r in result.history[1:])
    whole = sum(r["seconds"] for r in result.history)
    if rank == 0 or batch_norm == "independent":
        out.put({"samples_per_s": points * (len(result.history) - 1) / measured,
                 "comm_share": spent["all"] / whole, "grad_share": spent["gradients"] / whole,
                 "params": sum(p.numel() for p in model.parameters())})


def _spawn(target: Any, world: int, *args: Any) -> Any:
    """Start ``world`` ranks of ``target(rank, world, port, *args, queue)``; returns the queue they report to."""
    ctx = mp.get_context("spawn")
    out = ctx.SimpleQueue()
    port = _free_port()
    procs = [ctx.Process(target=target, args=(rank, world, port, *args, out)) for rank in range(world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode:
            raise SystemExit(f"a benchmark process failed (exit code {p.exitcode})")
    return out


def measure(world: int, args: argparse.Namespace, batch_norm: str) -> dict[str, float]:
    out = _spawn(_run, world, args, batch_norm)
    results = [out.get() for _ in range(world if batch_norm == "independent" else 1)]
    return {**results[0], "samples_per_s": sum(r["samples_per_s"] for r in results)}


def _eval_run(rank: int, world: int, port: int, out: Any) -> None:
    """One rank of a distributed evaluation: the jung-digits grid on a trained NB201 C=8 network, 100 points."""
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    if world == 1:
        for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
            os.environ.pop(name)
    torch.set_num_threads(1)
    from robnas import distributed
    from robnas.data import load_dataset
    from robnas.evaluation import evaluate, get_protocol
    from robnas.spaces import get_space
    from robnas.store.run_dir import RunDir
    from robnas.train import train_model
    from robnas.train.recipes import get_recipe

    data = load_dataset("digits", train_size=400, test_size=100, seed=0)
    recipe = get_recipe("digits-tiny")
    torch.manual_seed(0)
    model = get_space("nb201").build("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|"
                                     "nor_conv_3x3~1|nor_conv_3x3~2|", num_classes=10, in_channels=1,
                                     mean=data.mean, std=data.std, **recipe.build)
    with tempfile.TemporaryDirectory() as tmp:
        train_model(model, data.train, data.test, recipe.train, RunDir(tmp, quiet=True), seed=0, quiet=True)
    distributed.setup(torch.device("cpu"))  # after training: every rank trained the same network on its own
    started = time.perf_counter()
    record = evaluate(model.eval(), data.test, get_protocol("jung-digits"), 10, quiet=True, reliability=False)
    if rank == 0:
        out.put({"seconds": time.perf_counter() - started,
                 "accuracies": {k: [m.accuracy for m in t.by_eps.values()] for k, t in record.threat_models.items()}})


def measure_eval(world: int) -> dict[str, Any]:
    return _spawn(_eval_run, world).get()


def bytes_at_scale(world: int = 8) -> None:
    from torch import nn

    from robnas.models import create_model
    from robnas.spaces import get_space

    ring = 2 * (world - 1) / world
    net = create_model("darts_v2", num_classes=10, in_channels=3, C=36, layers=20)
    params = sum(p.numel() for p in net.parameters())
    net_bn = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())
    print(f"\nper step, DARTS_V2 C=36, 20 cells ({params / 1e6:.2f}M parameters): gradient all-reduce "
          f"{4 * params / 1e6:.1f} MB (fp32); ring all-reduce on {world} GPUs sends and receives "
          f"{ring * 4 * params / 1e6:.1f} MB per GPU per step; global batch norm: {net_bn} layers, "
          f"{2 * net_bn} small all-reduces per step")
    supernet = get_space("darts").supernet(num_classes=10, in_channels=3, mean=None, std=None, C=16, layers=8,
                                           partial_channels=1)
    weights = sum(p.numel() for p in supernet.weight_parameters())
    alphas = sum(p.numel() for p in supernet.arch_parameters())
    layers = [m for m in supernet.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    bn_floats = sum(world * (1 + 2 * m.num_features) for m in layers)
    print(f"search, DARTS supernet C=16, 8 cells: weights {weights / 1e6:.2f}M = {4 * weights / 1e6:.1f} MB per "
          f"all-reduce (one per weight step; second order adds two, at w and w'), alphas {alphas} = {4 * alphas} B "
          f"per all-reduce (one per architecture step; second order three)")
    print(f"global batch norm: {len(layers)} layers -> {len(layers)} all-reduces per training-mode forward and "
          f"{len(layers)} per backward, {4 * bn_floats / 1e6:.2f} MB per pass on {world} ranks (latency-bound)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128, help="global batch")
    parser.add_argument("--steps", type=int, default=8, help="steps per epoch")
    parser.add_argument("--width", type=int, default=16, help="ResNet-18 width (64 = the usual one)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs (the first is a warm-up)")
    args = parser.parse_args()
    print(f"ResNet-18 width {args.width}, global batch {args.batch} of 3x32x32, {args.steps} steps per epoch, "
          f"1 thread per process, gloo; epochs 2..{args.epochs} timed", flush=True)
    print(f"load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())} (the machine is shared: "
          "the ratios, not the rates, are the figures)", flush=True)
    one = measure(1, args, "global")
    print(f"1 process:                  {one['samples_per_s']:7.1f} samples/s ({one['params']} parameters)", flush=True)
    both = measure(2, args, "independent")
    print(f"control, 2 independent 1-process runs at once: {both['samples_per_s']:7.1f} samples/s in all = "
          f"{both['samples_per_s'] / one['samples_per_s']:.2f}x (the parallelism this machine offers right now)",
          flush=True)
    for batch_norm in ("global", "local"):
        two = measure(2, args, batch_norm)
        speedup = two["samples_per_s"] / one["samples_per_s"]
        print(f"2 processes, {batch_norm:6s} BN:    {two['samples_per_s']:7.1f} samples/s = {speedup:.2f}x "
              f"(target >= 1.6x: {'met' if speedup >= 1.6 else 'NOT met'}; "
              f"{two['samples_per_s'] / both['samples_per_s']:.0%} of the control); all-reduce {100 * two['comm_share']:.1f}% "
              f"of the step time (gradients {100 * two['grad_share']:.1f}%, batch norm and metrics the rest)",
              flush=True)
    one, two = measure_eval(1), measure_eval(2)
    speedup = one["seconds"] / two["seconds"]
    print(f"distributed evaluation (jung-digits grid + 75 corruptions, NB201 C=8, 100 points): 1 process "
          f"{one['seconds']:.1f} s, 2 processes {two['seconds']:.1f} s = {speedup:.2f}x (target >= 1.6x: "
          f"{'met' if speedup >= 1.6 else 'NOT met'}); same accuracies: {one['accuracies'] == two['accuracies']}",
          flush=True)
    print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    bytes_at_scale()


if __name__ == "__main__":
    main()
