"""Convolutions whose input gradient differentiates cheaply a second time (double backward).

Why: AdvRush's curvature term and the input-Hessian proxy build an input gradient with
``create_graph=True`` and differentiate it again. PyTorch's double backward of a convolution
(``_convolution_double_backward``, torch 2.13) also recomputes the gradient w.r.t. the weight even
when nothing asks for it, and for a grouped convolution it does so one group at a time: a depthwise
3x3 convolution over 16 channels runs 17 convolutions where one is needed (measured: the profile of
AdvRush's architecture backward on the DARTS supernet was 43% such convolutions).

Inside :func:`lean_double_backward` every ``conv2d`` call that needs gradients builds its gradient
graph from two autograd functions whose backward makes only the convolutions asked for. Each
convolution they make is the one PyTorch's own backward makes (the same aten call with the same
arguments), so values are those of plain autograd; only unrequested work is left out. Outside the
scope nothing changes (a custom function costs a Python call per convolution, which a plain
training step should not pay).

What "asked for" means: an autograd function knows which of its inputs require grad, not which
gradients the current ``autograd.grad`` call wants. So a caller that differentiates w.r.t. something
other than the weights (the alphas, the input) holds the weights constant for the while
(:func:`constant`), and no weight gradient is formed at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.modules.utils import _pair
from torch.overrides import TorchFunctionMode

# (stride, padding, dilation, groups) of one convolution, as aten's convolution_backward takes them.
_Conf = tuple[tuple[int, int], tuple[int, int], tuple[int, int], int]


def _native_backward(g: torch.Tensor, x: torch.Tensor, w: torch.Tensor, bias: bool, conf: _Conf,
                     mask: tuple[bool, bool, bool]) -> tuple[Any, Any, Any]:
    """PyTorch's own convolution backward, exactly as autograd calls it for ``conv2d``."""
    stride, padding, dilation, groups = conf
    return torch.ops.aten.convolution_backward(g, x, w, [w.shape[0]] if bias else None, stride, padding, dilation,
                                               False, [0, 0], groups, list(mask))


class _Conv2d(torch.autograd.Function):
    """``conv2d`` whose backward, when recorded (``create_graph``), routes the input gradient through
    :class:`_InputGradient` instead of PyTorch's convolution-backward node."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, conf: _Conf) -> torch.Tensor:
        ctx.save_for_backward(x, w)
        ctx.conf, ctx.bias = conf, b is not None
        stride, padding, dilation, groups = conf
        return F.conv2d(x, w, b, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[Any, ...]:
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        need_b = need_b and ctx.bias
        if not torch.is_grad_enabled():  # a plain backward: one call of PyTorch's kernel, as autograd makes
            gx, gw, gb = _native_backward(g, x, w, ctx.bias, ctx.conf, (need_x, need_w, need_b))
            return gx, gw, gb, None
        gx = _InputGradient.apply(g, w, x.detach(), ctx.conf) if need_x else None
        gw = gb = None
        if need_w or need_b:  # recorded by autograd as usual: the weight path keeps PyTorch's double backward
            _, gw, gb = _native_backward(g, x, w, ctx.bias, ctx.conf, (False, need_w, need_b))
        return gx, gw, gb, None


class _InputGradient(torch.autograd.Function):
    """The input gradient of a convolution for the output gradient ``g`` (linear in ``g`` and ``w``,
    independent of the input ``x``, whose shape it takes); its backward makes only what is needed."""

    @staticmethod
    def forward(ctx: Any, g: torch.Tensor, w: torch.Tensor, x: torch.Tensor, conf: _Conf) -> torch.Tensor:
        ctx.save_for_backward(g, w)
        ctx.conf = conf
        return _native_backward(g, x, w, False, conf, (True, False, False))[0]

    @staticmethod
    def backward(ctx: Any, ggx: torch.Tensor) -> tuple[Any, ...]:
        g, w = ctx.saved_tensors
        need_g, need_w = ctx.needs_input_grad[:2]
        stride, padding, dilation, groups = ctx.conf
        # d<ggx, gx>/dg is the convolution of ggx (PyTorch's double backward makes the same call) ...
        dg = F.conv2d(ggx, w, None, stride, padding, dilation, groups) if need_g else None
        # ... and d<ggx, gx>/dw the weight gradient of that convolution for the output gradient g.
        dw = _native_backward(g, ggx, w, False, ctx.conf, (False, True, False))[1] if need_w else None
        return dg, dw, None, None


def _lean_conv2d(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1) -> torch.Tensor | None:
    """The lean convolution (``conv2d``'s own parameter names, so keyword calls work), or None where it does
    not apply: string padding, unbatched input, no gradient wanted, or autocast (whose casts happen
    inside the call, so the saved tensors would not be the ones convolved)."""
    if isinstance(padding, str) or input.dim() != 4 or not torch.is_grad_enabled():
        return None
    if torch.is_autocast_enabled(input.device.type):
        return None
    if not (input.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)):
        return None
    conf = (_pair(stride), _pair(padding), _pair(dilation), int(groups))
    return _Conv2d.apply(input, weight, bias, conf)


class _LeanConvolutions(TorchFunctionMode):
    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func is torch.conv2d:
            out = _lean_conv2d(*args, **kwargs)
            if out is not None:
                return out
        return func(*args, **kwargs)


@contextmanager
def lean_double_backward() -> Iterator[None]:
    """Forwards made in this scope build gradient graphs that differentiate cheaply a second time."""
    with _LeanConvolutions():
        yield


@contextmanager
def constant(params: Iterable[torch.Tensor]) -> Iterator[None]:
    """The parameters do not require grad for the while (restored after): gradients w.r.t. other
    tensors then form no weight branches at all."""
    held = [p for p in params if p.requires_grad]
    for p in held:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in held:
            p.requires_grad_(True)
