"""CPU thread policy: small networks run faster on one intra-op thread.

Measured on the 2-core reference machine (``perf/threads.py``): a DARTS cell network of a few
thousand parameters on 8x8 inputs trains 2-5x *slower* on two threads than on one, because every
op is too small to amortise OpenMP's fork/join; only networks of hundreds of MFLOPs per sample
(a full-width CIFAR ResNet-18) gain from a second thread. ``threads = 0`` (auto) therefore picks
one thread below ``PARALLEL_FLOPS`` and torch's own default above it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from robnas.errors import InvalidValueError

# Forward FLOPs per sample (multiply-add = 2) above which intra-op parallelism pays off.
PARALLEL_FLOPS = 200e6
_TORCH_DEFAULT = torch.get_num_threads()


def choose_threads(flops_per_sample: int, requested: int = 0) -> int:
    """The intra-op thread count for a model of this size; ``requested > 0`` wins."""
    if requested < 0:
        raise InvalidValueError(f"threads must be >= 0 (0 = auto), got {requested}")
    if requested > 0:
        return requested
    return 1 if flops_per_sample < PARALLEL_FLOPS else _TORCH_DEFAULT


def apply_threads(device: torch.device, flops_per_sample: int, requested: int = 0) -> int:
    """Set torch's CPU thread count for work on ``device`` (no-op on CUDA); returns what was set."""
    threads = choose_threads(flops_per_sample, requested)
    if device.type == "cpu" and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def worker_threads(flops_per_sample: int, requested: int = 0) -> int:
    """Threads for one network inside a worker: the policy above, capped by the threads the worker was given
    (a pool of 2 workers on 2 cores gives each 1); ``requested > 0`` wins."""
    if requested:
        return choose_threads(flops_per_sample, requested)
    return min(choose_threads(flops_per_sample, 0), torch.get_num_threads())


@contextmanager
def thread_limit(threads: int) -> Iterator[None]:
    """torch's CPU thread count set to ``threads`` inside the block, restored after."""
    before = torch.get_num_threads()
    if threads != before:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
