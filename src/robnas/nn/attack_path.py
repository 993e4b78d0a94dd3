"""The model as attacks differentiate it: parameters frozen, and for evaluation a faster equivalent copy.

Why: an attack differentiates the loss with respect to the input only.

* With the parameters still requiring gradients, autograd records what their gradients would need
  during every forward: steps are 1.11-1.14x slower and the values identical (measured, max gradient
  difference 0). :func:`frozen_parameters` turns that off for the duration of an attack, wherever
  attacks run (evaluation, adversarial training, searches), and restores every flag afterwards.
* For evaluation (the lockstep engine, :mod:`robnas.attacks.lockstep`), :func:`gradient_model` also
  gives an equivalent copy that is cheaper to differentiate: batch norm folded into the convolution
  before it (``torch.fx``'s eval-mode fusion) and convolutions in channels-last layout. Measured on
  NB201 C=8 digits networks, one thread, batch 693 (``perf/forward_limits.py``): channels-last
  1.4-2.4x (AVX-512) and 1.3-3.0x (oneDNN held to AVX2) over 24 networks, folding 1.26-1.62x more over
  7. Both change only float rounding (input gradients differ by about 1e-9 relative to their size);
  the tests pin every attack's per-point outcomes on real networks. Training and searches keep the
  exact path, so their weights stay bit for bit what they were.

The rule per network: fold when the model is in eval mode and ``torch.fx`` can trace it; channels-last
when it has a 2-D convolution and lives on the CPU; no torch.compile (measured 1.41x on the same step
against channels-last's 1.36x, after 14.5 s of compilation per network, which no protocol's few
thousand steps on these networks repays).
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
    """An eval-mode copy of ``model`` meant to give the same outputs and input gradients to float rounding,
    cheaper to differentiate: batch norm folded into convolutions (when fx can trace it), frozen,
    channels-last by the rule. The model itself when it is in training mode (batch statistics cannot be
    folded) or has hooks (a trace would drop them). A trace also drops custom autograd functions, so
    the caller checks the copy's gradients against the model's before using it (:func:`same_gradients`)."""
    if any(m.training or m._forward_hooks or m._forward_pre_hooks or m._backward_hooks
           or getattr(m, "_backward_pre_hooks", None) for m in model.modules()):
        return model
    try:
        from torch.fx.experimental.optimization import fuse

        fast = fuse(model)  # a copy; conv -> batch norm pairs become one convolution with folded weights
    except Exception:  # noqa: BLE001 -- untraceable models are copied as they are
        fast = copy.deepcopy(model)
    fast.eval().requires_grad_(False)
    if prefers_channels_last(fast):
        fast.to(memory_format=torch.channels_last)
    return fast


def same_gradients(a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor]) -> bool:
    """Whether two (logits, input gradient) answers agree to float rounding: logits as the inference rule
    asks (rtol 1e-4, same predictions), gradients to 1e-3 relative or 1e-4 of the largest entry."""
    (logits_a, grad_a), (logits_b, grad_b) = a, b
    scale = float(grad_a.abs().max()) if grad_a.numel() else 0.0
    return (logits_a.shape == logits_b.shape and grad_a.shape == grad_b.shape
            and torch.allclose(logits_b, logits_a, rtol=1e-4, atol=1e-5)
            and torch.equal(logits_a.argmax(1), logits_b.argmax(1))
            and torch.allclose(grad_b, grad_a, rtol=1e-3, atol=1e-4 * scale + 1e-12))


def has_custom_backward(output: torch.Tensor) -> bool:
    """Whether the autograd graph behind ``output`` has a custom ``torch.autograd.Function`` (a gradient of
    its own, which an fx trace of the model would silently replace by its forward's plain operations)."""
    seen: set[int] = set()
    stack = [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, torch.autograd.function.BackwardCFunction):
            return True
        stack.extend(fn for fn, _ in node.next_functions)
    return False
