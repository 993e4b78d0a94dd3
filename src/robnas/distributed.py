"""Data-parallel runs over several processes (``torch.distributed``), launched by ``torchrun``.

``torchrun --nproc-per-node N -m robnas train ...`` starts N copies of robnas with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` in their environment;
:func:`setup` reads them, joins the process group (NCCL on CUDA, gloo on the CPU) and binds each
rank to ``cuda:LOCAL_RANK``. Without a launcher every function here is a no-op for a world of one.

The rules every data-parallel job follows (training and the differentiable search):

* **Batches.** The configured batch size is the GLOBAL batch; it must be a multiple of the world
  size (one-line error otherwise). Every rank draws the same permutation and augmentation for the
  whole global batch from the shared, seeded data generator and keeps its rows
  (:func:`shard_bounds`): no point is seen twice, and the generator's state is the same on every
  rank and for every world size, so a checkpoint does not depend on the world size. An epoch's
  last, smaller batch is split as evenly as possible; one with fewer points than ranks is skipped.
* **Gradients.** Each rank differentiates its share of the global mean loss (its local mean times
  ``local points / global points``) and the gradients are summed over the ranks
  (:func:`all_reduce_sum_`): weights, architecture parameters and the second-order DARTS terms all
  see the gradient of the global batch, as on one device.
* **Batch norm.** :func:`use_global_batch_norm` makes every batch-norm layer normalise with the
  statistics of the global batch (see :class:`GlobalBatchNorm`), so 1 and N processes compute the
  same function and the running statistics are the same on every rank. ``ROBNAS_BATCH_NORM=local``
  keeps per-rank statistics instead (no communication inside the forward: faster, but the result
  then depends on the world size; rank 0's running statistics are the ones saved).
* **Files.** Only rank 0 writes (checkpoints, metrics, logs, results); the others read rank 0's
  checkpoint through :func:`broadcast_object`, so hosts need no shared file system.
* **Failures.** A rank that raises exits; ``torchrun`` then stops the others and reports that
  rank's error. Collectives also time out (``ROBNAS_DIST_TIMEOUT`` seconds, default 600) so a
  rank stuck without exiting cannot hang the job forever.
"""

from __future__ import annotations

import atexit
import datetime
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from robnas.errors import InvalidValueError

#: Environment variables a launcher (torchrun) sets; their presence turns data parallelism on.
LAUNCHER_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
DEFAULT_TIMEOUT = 600.0
BATCH_NORM_MODES = ("global", "local")


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of one job (rank 0 of 1 without a launcher)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the only writer of files."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.size > 1


_world = World()
_device = torch.device("cpu")


def _env_int(name: str, environ: dict[str, str]) -> int:
    raw = environ.get(name, "")
    try:
        return int(raw)
    except ValueError:
        raise InvalidValueError(f"environment variable {name}={raw!r} is not an integer; launch robnas with "
                                "torchrun (torchrun --nproc-per-node N -m robnas ...)") from None


def launched(environ: dict[str, str] | None = None) -> World:
    """The world described by the launcher's environment (a world of one when there is none)."""
    env = dict(os.environ if environ is None else environ)
    if "WORLD_SIZE" not in env:
        return World()
    missing = [name for name in LAUNCHER_VARIABLES if name not in env]
    if missing:
        raise InvalidValueError(f"WORLD_SIZE is set but {', '.join(missing)} are not; launch robnas with torchrun "
                                "(torchrun --nproc-per-node N -m robnas ...), which sets all of them")
    world = World(_env_int("RANK", env), _env_int("WORLD_SIZE", env), _env_int("LOCAL_RANK", env))
    if world.size < 1 or not 0 <= world.rank < world.size:
        raise InvalidValueError(f"RANK={world.rank} and WORLD_SIZE={world.size} do not describe a process group")
    return world


def timeout_seconds(environ: dict[str, str] | None = None) -> float:
    raw = (os.environ if environ is None else environ).get("ROBNAS_DIST_TIMEOUT", "")
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise InvalidValueError(f"ROBNAS_DIST_TIMEOUT={raw!r} must be a positive number of seconds")
    return value


def batch_norm_mode(environ: dict[str, str] | None = None) -> str:
    """``global`` (default: statistics of the global batch) or ``local`` (per rank), from ROBNAS_BATCH_NORM."""
    mode = (os.environ if environ is None else environ).get("ROBNAS_BATCH_NORM", "global").lower()
    if mode not in BATCH_NORM_MODES:
        raise InvalidValueError(f"ROBNAS_BATCH_NORM={mode!r}: use global (statistics of the whole batch, the "
                                "default) or local (per-process statistics)")
    return mode


def current() -> World:
    """The world this process belongs to (after :func:`setup`; a world of one before)."""
    return _world


def setup(device: torch.device) -> tuple[World, torch.device]:
    """Join the launcher's process group (once per process) and return (world, this rank's device).

    On CUDA each rank uses ``cuda:LOCAL_RANK``; on the CPU every rank uses the CPU.
    """
    global _world, _device
    world = launched()
    batch_norm_mode()  # a bad value fails here, before anything runs
    if not world.enabled:
        return world, device
    if device.type == "cuda":
        if world.local_rank >= torch.cuda.device_count():
            raise InvalidValueError(f"LOCAL_RANK={world.local_rank} but this host has {torch.cuda.device_count()} "
                                    "GPUs; start at most one process per GPU (--nproc-per-node)")
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=world.rank, world_size=world.size,
                                timeout=datetime.timedelta(seconds=timeout_seconds()))
        atexit.register(_teardown)
    _world, _device = world, device
    return world, device


def _teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


# --- batches ------------------------------------------------------------------------------------


def check_batch_size(batch_size: int, setting: str, world: World | None = None) -> None:
    """The global batch must split into equal shards: a one-line error naming the setting otherwise."""
    world = world or _world
    if world.enabled and batch_size % world.size:
        lower = batch_size - batch_size % world.size
        raise InvalidValueError(
            f"{setting}={batch_size} is the global batch and must be a multiple of the {world.size} processes; "
            f"use {lower or world.size} or {lower + world.size} (--set {setting}=...)")


def shard_bounds(total: int, world: World | None = None) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of a global batch of ``total`` points that this rank keeps (near-equal shards)."""
    world = world or _world
    return world.rank * total // world.size, (world.rank + 1) * total // world.size


def batch_total(step: int, points: int, batch_size: int) -> int:
    """Size of global batch ``step`` of an epoch over ``points`` points (the last one may be smaller)."""
    return min(batch_size, points - step * batch_size)


def rank_seed(seed: int, world: World | None = None) -> int:
    """A seed for randomness that must differ between ranks; rank 0 (and a world of one) keeps ``seed``."""
    world = world or _world
    return seed if world.rank == 0 else (seed * 1_000_003 + world.rank * 7_919_993) % (2**63 - 1)


# --- collectives (no-ops in a world of one) -----------------------------------------------------


def all_reduce_sum_(tensors: Sequence[torch.Tensor]) -> None:
    """Sum ``tensors`` over the ranks in place, as ONE flat all-reduce (one message, not one per tensor)."""
    if not _world.enabled or not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat)
    offset = 0
    for t in tensors:
        t.copy_(flat[offset:offset + t.numel()].view_as(t))
        offset += t.numel()


def all_reduce_gradients(parameters: Iterable[nn.Parameter]) -> None:
    """Sum the ``.grad`` of ``parameters`` over the ranks (a missing gradient counts as zero)."""
    if not _world.enabled:
        return
    params = [p for p in parameters if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    all_reduce_sum_([p.grad for p in params])


def sum_values(values: Sequence[float]) -> list[float]:
    """Python numbers summed over the ranks (float64)."""
    if not _world.enabled:
        return list(values)
    tensor = torch.tensor(list(values), dtype=torch.float64, device=_device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def my_share(count: int, world: World | None = None) -> list[int]:
    """The indices of ``count`` independent work items this rank takes (round robin; all of them alone)."""
    world = world or _world
    return list(range(world.rank, count, world.size))


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank (``[obj]`` in a world of one)."""
    if not _world.enabled:
        return [obj]
    out: list[Any] = [None] * _world.size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (pickled; for checkpoints and run-directory names)."""
    if not _world.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0, device=_device if _device.type == "cuda" else None)
    return box[0]


def broadcast_tensors_(tensors: Sequence[torch.Tensor]) -> None:
    """Overwrite ``tensors`` with rank 0's values (one flat broadcast)."""
    if not _world.enabled or not tensors:
        return
    flat = torch.cat([t.detach().reshape(-1) for t in tensors])
    dist.broadcast(flat, src=0)
    offset = 0
    with torch.no_grad():
        for t in tensors:
            t.copy_(flat[offset:offset + t.numel()].view_as(t))
            offset += t.numel()


# --- batch norm over the global batch -----------------------------------------------------------


class _SumOverRanks(torch.autograd.Function):
    """All-reduce (sum) as an autograd function. Its backward is itself (the gradient of a sum over ranks
    w.r.t. each rank's input is the sum of the ranks' output gradients) applied as a function, so it
    can be differentiated again."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:  # noqa: ARG004 (autograd signature)
        out = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # noqa: ARG004 (autograd signature)
        return _SumOverRanks.apply(grad)


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training-mode statistics are those of the global batch across all ranks.

    Why not per-rank statistics (what ``DataParallel`` DARTS code gets): the papers search and train
    on one device, with the batch statistics of the whole batch (64 for DARTS' search); per-rank
    statistics would normalise each shard by itself, changing the function the search optimises as
    the world size grows, and would leave different running statistics on each rank. Why not
    ``torch.nn.SyncBatchNorm``: it runs only on accelerators, and its backward cannot be
    differentiated again, which AdvRush's curvature term (an input gradient differentiated w.r.t.
    the alphas) needs. Here each rank contributes ``(count, mean, M2)`` per channel, one all-reduce
    (differentiable, twice: :class:`_SumOverRanks`) combines them with Chan's formula, and
    the result is exact to float rounding. Cost: one small all-reduce per batch-norm layer per
    training-mode forward (and one in the backward), a latency, not a bandwidth, cost. In eval mode
    (attacks, validation) the layer is the ordinary one and communicates nothing.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and _world.enabled):
            return super().forward(x)
        dims = [d for d in range(x.dim()) if d != 1]
        channels, dtype = x.shape[1], x.dtype
        x = x.float()  # statistics in fp32 also under CUDA autocast
        count = x.numel() // channels
        mean = x.mean(dims)
        m2 = ((x - mean.view(1, -1, *[1] * (x.dim() - 2))) ** 2).sum(dims)
        # Row `rank` of a (world, 1 + 2C) matrix; the sum over ranks gives every rank every row.
        row = torch.cat([x.new_full((1,), float(count)), mean * count, m2])
        table = x.new_zeros(_world.size, row.numel())
        table = table.index_copy(0, torch.tensor([_world.rank], device=x.device), row.unsqueeze(0))
        table = _SumOverRanks.apply(table)
        counts, sums, m2s = table[:, :1], table[:, 1:1 + channels], table[:, 1 + channels:]
        total = counts.sum()
        global_mean = sums.sum(0) / total
        rank_means = sums / counts.clamp_min(1.0)
        global_m2 = (m2s + counts * (rank_means - global_mean) ** 2).sum(0)
        var = global_m2 / total
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = (1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum)
                self.running_mean.mul_(1 - factor).add_(factor * global_mean.detach())
                unbiased = global_m2.detach() / max(float(total) - 1.0, 1.0)
                self.running_var.mul_(1 - factor).add_(factor * unbiased)
        shape = (1, channels, *[1] * (x.dim() - 2))
        out = (x - global_mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out.to(dtype)


class GlobalBatchNorm1d(GlobalBatchNorm, nn.BatchNorm1d):
    pass


class GlobalBatchNorm2d(GlobalBatchNorm, nn.BatchNorm2d):
    pass


_GLOBAL = {nn.BatchNorm1d: GlobalBatchNorm1d, nn.BatchNorm2d: GlobalBatchNorm2d}


def use_global_batch_norm(model: nn.Module) -> nn.Module:
    """Make ``model``'s batch-norm layers normalise over the global batch (in place; a no-op in a world of one).

    The layers change class, not identity: parameters, buffers, state-dict keys and optimiser
    references stay as they are, so checkpoints are interchangeable with single-process ones.
    """
    if _world.enabled and batch_norm_mode() == "global":
        for module in model.modules():
            cls = _GLOBAL.get(type(module))
            if cls is not None:
                module.__class__ = cls
    return model
