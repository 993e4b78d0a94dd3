"""The model as attacks differentiate it: parameters frozen, and for evaluation a channels-last copy.

Why: an attack differentiates the loss with respect to the input only.

* With the parameters still requiring gradients, autograd records what their gradients would need
  during every forward: steps are 1.11-1.14x slower and the values identical (measured, max gradient
  difference 0). :func:`frozen_parameters` turns that off for the duration of an attack, wherever
  attacks run (evaluation, adversarial training, searches), and restores every flag afterwards.
* For evaluation (the lockstep engine, :mod:`robnas.attacks.lockstep`), :func:`gradient_model` gives a
  frozen copy with its convolutions in channels-last layout: PyTorch's CPU convolutions, batch norm and
  pooling then run oneDNN's direct kernels instead of im2col with tiny GEMMs. Measured on 24 NB201 C=8
  digits networks, one thread, batch 693 (``perf/forward_limits.py`` prints one): 1.4-2.4x (AVX-512)
  and 1.3-3.0x (oneDNN held to AVX2) per gradient step. It changes only float rounding (input gradients
  differ by about 1e-9); the tests pin every attack's per-point outcomes on real networks, and a
  benchmark built with it has the same accuracies and confusion matrices. Training and searches keep
  the exact path, so their weights stay bit for bit what they were.

The rule per network: channels-last when it has a 2-D convolution and lives on the CPU. Not used,
measured: batch norm folded into the convolutions (``torch.fx`` fusion; 1.26-1.62x more, but the
folded pre-activations move exact zeros by rounding, so FGSM's sign at 255/255 changed one confusion
matrix of a digits benchmark cell); torch.compile (1.41x on the same step against channels-last's
1.36x, after 14.5 s of compilation per network, which no protocol's few thousand steps repays).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def frozen_parameters(model: nn.Module) -> Iterator[None]:
    """``requires_grad`` off for every parameter of ``model`` while the block runs; each flag restored after.

    Not for a model two threads attack at once: lockstep runs enter it once, around all their attacks.
    """
    saved = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in saved:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)


def prefers_channels_last(model: nn.Module) -> bool:
    """The measured rule: channels-last for networks with 2-D convolutions on the CPU."""
    on_cpu = all(p.device.type == "cpu" for p in model.parameters())
    return on_cpu and any(isinstance(m, nn.Conv2d) for m in model.modules())


def gradient_model(model: nn.Module) -> nn.Module:
    """A frozen copy of ``model`` in the layout the rule picks, for the input gradients of an evaluation
    (the caller's model is never changed); the model itself when it cannot be copied or nothing changes."""
    if not prefers_channels_last(model):
        return model
    try:
        fast = copy.deepcopy(model)
    except Exception:  # noqa: BLE001 -- a model that cannot be copied is differentiated as it is
        return model
    return fast.requires_grad_(False).to(memory_format=torch.channels_last)
