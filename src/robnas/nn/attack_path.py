"""The model as attacks use it: parameters frozen, and convolutions in channels-last layout where that pays.

Why: an attack differentiates the loss with respect to the input only. With the parameters still
requiring gradients, autograd records and keeps what their gradients would need during the forward
(1.11-1.14x slower steps, measured; the values are identical). And PyTorch's CPU convolutions, batch
norm and pooling run 1.4-2.4x faster on small maps in channels-last layout (oneDNN's direct kernels
instead of im2col with tiny GEMMs): measured on 24 NB201 C=8 digits networks, AVX-512 and oneDNN held
to AVX2 alike (``perf/forward_limits.py`` prints the figures). The layout changes only float rounding
(input gradients differ by about 1e-9); the tests pin every attack's per-point outcomes.

The rule per network (:func:`prefers_channels_last`): channels-last when it has a 2-D convolution,
none of torch.compile (its several seconds of compilation per network are not repaid by a protocol's
hundreds of steps on these networks; measured 1.41x against channels-last's 1.36x on the same step).

:func:`attack_path` changes the model in place for the duration of an attack and restores every
parameter's ``requires_grad`` and the layout afterwards (a layout change is exact, so the caller's
weights are unchanged bit for bit). It is not for a model two threads attack at once: lockstep runs
(:mod:`robnas.attacks.lockstep`) enter it once, around all their attacks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def prefers_channels_last(model: nn.Module) -> bool:
    """The measured rule: channels-last for networks with 2-D convolutions on the CPU."""
    params = list(model.parameters())
    on_cpu = all(p.device.type == "cpu" for p in params)
    return on_cpu and any(isinstance(m, nn.Conv2d) for m in model.modules())


@contextmanager
def attack_path(model: nn.Module) -> Iterator[None]:
    """Freeze ``model``'s parameters and set its layout for an attack; both restored afterwards."""
    params = list(model.parameters())
    saved = [(p, p.requires_grad, p.data) for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        if prefers_channels_last(model):
            model.to(memory_format=torch.channels_last)  # 4-D weights only; Parameter objects are kept
        yield
    finally:
        for p, flag, data in saved:
            p.data = data  # the caller's very tensors back (same values: a layout change is exact)
            p.requires_grad_(flag)
