"""A faster forward for evaluation: ONNX Runtime or the frozen TorchScript graph, when that is exact and repaid.

Why: black-box attacks (Square) and corruption sweeps are thousands of plain forwards of one model in
eval mode. Two faster forwards than the eager model exist here:

* ONNX Runtime (the optional ``fast`` extra) on the model written as ONNX by :mod:`robnas.nn.onnx_graph`;
* the model traced, frozen and optimised for inference by TorchScript (batch norm folded into the
  convolutions, oneDNN): always installed.

Which one a network gets is the rule below (:func:`choose`): each has a start-up cost per network and
a saving per image against the eager model, both measured on the NB201 C=8 digits networks
(``perf/forward_limits.py``); a candidate is built only when the images the caller expects to send
repay its start-up, and the one that saves most is tried first. A built forward is used only when it
gives the same logits as the model (checked at a batch size other than the traced one, to a float
tolerance) and the same predictions; otherwise the next candidate, finally the model itself.
Gradients never go through either (neither has any).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from robnas.nn import onnx_runtime

# Fast logits must match the eager model's to this tolerance (float32 reassociation, BN folding).
RTOL, ATOL = 1e-4, 1e-5

Forward = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Candidate:
    """A faster forward's measured costs: CPU seconds to build it for one network, seconds saved per image."""

    name: str
    startup: float
    saving: float


# Measured on the NB201 C=8 digits networks, one thread, batch 100 (perf/forward_limits.py): eager ~93 us
# per image, frozen graph ~53 us, ONNX Runtime ~43 us; start-up 0.17-0.19 s (trace, freeze, optimise) and
# 0.02-0.04 s (fx trace, ONNX graph, session). ONNX Runtime's first import in a process costs ~0.5 s more.
ONNX_RUNTIME = Candidate("onnxruntime", startup=0.04, saving=50e-6)
ONNX_RUNTIME_IMPORT = 0.5
FROZEN_GRAPH = Candidate("frozen", startup=0.19, saving=40e-6)


def choose(images: int | None, runtime_installed: bool | None = None) -> list[str]:
    """The faster forwards worth building for ``images`` plain image-forwards (None: a great many), best first.

    A candidate is worth building when ``images * saving > startup``: a network evaluated for a few
    queries keeps the eager model rather than paying more than it saves.
    """
    installed = onnx_runtime.available() if runtime_installed is None else runtime_installed
    candidates = [FROZEN_GRAPH]
    if installed:
        extra = 0.0 if "onnxruntime" in sys.modules else ONNX_RUNTIME_IMPORT
        candidates.insert(0, Candidate(ONNX_RUNTIME.name, ONNX_RUNTIME.startup + extra, ONNX_RUNTIME.saving))
    worth = [c for c in candidates if images is None or images * c.saving > c.startup]
    worth.sort(key=lambda c: -(c.saving if images is None else images * c.saving - c.startup))
    return [c.name for c in worth]


def inference_forward(model: nn.Module, example: torch.Tensor, images: int | None = None) -> Forward:
    """A no-grad forward equivalent to ``model`` in eval mode, through a faster runtime where that is exact.

    ``example`` is a batch of real inputs (at least 2 points); the model must be in eval mode.
    ``images``: how many images the caller will send (None: many), for the start-up rule of :func:`choose`.
    """
    eager = _no_grad(model)
    if model.training or example.device.type != "cpu" or example.shape[0] < 2:
        return eager
    probe = example[: max(2, min(example.shape[0], 37))]  # another batch size than the traced one
    for name in choose(images):
        fast = _build(name, model, example)
        if fast is not None and _exact(fast, model, probe):
            return _guarded(fast, eager)
    return eager


def _build(name: str, model: nn.Module, example: torch.Tensor) -> Forward | None:
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if name == ONNX_RUNTIME.name:
                return onnx_runtime.onnx_forward(model, example)
            return torch.jit.optimize_for_inference(torch.jit.trace(model, example[:1], check_trace=False))
    except Exception:  # noqa: BLE001 -- anything a runtime cannot handle runs another way, which is always right
        return None


def _exact(fast: Forward, model: nn.Module, probe: torch.Tensor) -> bool:
    """Same logits to float tolerance and the same predictions as the model on ``probe``."""
    try:
        with torch.no_grad():
            want, got = model(probe), fast(probe)
        return got.shape == want.shape and torch.allclose(got, want, rtol=RTOL, atol=ATOL) \
            and torch.equal(got.argmax(1), want.argmax(1))
    except Exception:  # noqa: BLE001 -- a forward that fails on real inputs (or returns no tensor) is not used
        return False


def _no_grad(fn: Forward) -> Forward:
    def call(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return fn(x)
    return call


def _guarded(fast: Forward, eager: Forward) -> Forward:
    """Empty batches (which oneDNN kernels refuse) go to the eager model."""
    def call(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return fast(x) if x.shape[0] > 0 else eager(x)
    return call
