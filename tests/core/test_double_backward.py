"""Lean double backward of convolutions: the same values as plain autograd, less work."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.profiler import profile

from robnas.nn.double_backward import constant, lean_double_backward

# (in channels, out channels, kernel, stride, padding, dilation, groups, bias)
CONFIGS = [(3, 4, 3, 1, 1, 1, 1, False), (4, 4, 3, 2, 1, 1, 4, False), (4, 6, 3, 1, 2, 2, 2, True),
           (6, 6, 5, 2, 2, 1, 6, False), (3, 5, 1, 2, 0, 1, 1, True), (4, 4, 3, 2, 1, 1, 1, False)]


def _setup(cfg: tuple, seed: int = 0) -> tuple[torch.nn.Conv2d, torch.Tensor, torch.Tensor]:
    c_in, c_out, k, stride, padding, dilation, groups, bias = cfg
    torch.manual_seed(seed)
    conv = torch.nn.Conv2d(c_in, c_out, k, stride, padding, dilation, groups, bias)
    x = torch.randn(3, c_in, 9, 9, requires_grad=True)  # odd size: stride 2 needs an output padding
    alpha = torch.randn(1, requires_grad=True)
    return conv, x, alpha


def _curvature_like(conv: torch.nn.Conv2d, x: torch.Tensor, alpha: torch.Tensor, lean: bool) -> list[torch.Tensor]:
    """An input gradient built with create_graph, differentiated again w.r.t. a scale, the input and
    the weights (what AdvRush and the Hessian proxies do)."""
    def forward() -> torch.Tensor:
        with lean_double_backward() if lean else torch.enable_grad():
            return torch.tanh(conv(torch.relu(conv(x)) * alpha) if conv.in_channels == conv.out_channels
                              else conv(x) * alpha)
    y = forward()
    (g,) = torch.autograd.grad((y ** 2).sum(), x, create_graph=True)
    outer = (g * torch.linspace(-1, 1, g.numel()).view_as(g)).sum() + (g ** 2).sum()
    params = [alpha, x, conv.weight] + ([conv.bias] if conv.bias is not None else [])
    return [g.detach(), *torch.autograd.grad(outer, params)]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_same_values_as_plain_autograd(cfg: tuple) -> None:
    conv, x, alpha = _setup(cfg)
    plain = _curvature_like(conv, x, alpha, lean=False)
    lean = _curvature_like(conv, x, alpha, lean=True)
    assert torch.equal(plain[0], lean[0])  # the input gradient itself: PyTorch's own kernel
    for a, b in zip(plain[1:], lean[1:]):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


def test_a_third_derivative_still_flows() -> None:
    """Hessian-vector products of a gradient graph built in the scope can be differentiated again."""
    conv, x, alpha = _setup(CONFIGS[1])
    out = []
    for lean in (False, True):
        with lean_double_backward() if lean else torch.enable_grad():
            y = conv(x) * alpha
        (g,) = torch.autograd.grad((torch.tanh(y) ** 2).sum(), x, create_graph=True)
        (hv,) = torch.autograd.grad((g ** 2).sum(), x, create_graph=True)
        out.append(torch.autograd.grad(hv.sum(), alpha)[0])
    torch.testing.assert_close(out[1], out[0], rtol=1e-5, atol=1e-6)


def _convolutions_in_second_backward(lean: bool, groups: int) -> int:
    conv = torch.nn.Conv2d(8, 8, 3, padding=1, groups=groups, bias=False)
    x = torch.randn(2, 8, 6, 6, requires_grad=True)
    alpha = torch.ones(1, requires_grad=True)
    with constant(conv.parameters()):
        with lean_double_backward() if lean else torch.enable_grad():
            y = conv(x) * alpha
        (g,) = torch.autograd.grad((y ** 2).sum(), x, create_graph=True)
        with profile() as prof:
            torch.autograd.grad((g ** 2).sum(), alpha)
    return sum(e.count for e in prof.key_averages() if e.key == "aten::convolution")


def test_only_the_needed_convolution_runs() -> None:
    # The reason for the module: plain autograd recomputes the unwanted weight gradient group by group.
    assert _convolutions_in_second_backward(lean=False, groups=8) == 9
    assert _convolutions_in_second_backward(lean=True, groups=8) == 1
    assert _convolutions_in_second_backward(lean=True, groups=1) == 1


def test_outside_the_scope_and_where_it_does_not_apply_nothing_changes() -> None:
    conv, x, _ = _setup(CONFIGS[0])
    assert type(conv(x).grad_fn).__name__ == "ConvolutionBackward0"
    with lean_double_backward():
        assert type(conv(x).grad_fn).__name__ != "ConvolutionBackward0"
        with torch.no_grad():
            assert conv(x).grad_fn is None
        same = F.conv2d(x, conv.weight, padding="same")  # string padding: PyTorch's own convolution
        assert type(same.grad_fn).__name__ == "ConvolutionBackward0"
        with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast casts inside the call: left to PyTorch
            assert type(conv(x).grad_fn).__name__ == "ConvolutionBackward0"
        by_keyword = F.conv2d(input=x, weight=conv.weight, bias=None, stride=1, padding=1)
        assert type(by_keyword.grad_fn).__name__ != "ConvolutionBackward0"
        assert torch.equal(by_keyword, F.conv2d(x, conv.weight, None, 1, 1))


def test_constant_restores_requires_grad() -> None:
    conv = torch.nn.Conv2d(2, 2, 3, bias=True)
    conv.bias.requires_grad_(False)
    with constant(conv.parameters()):
        assert not any(p.requires_grad for p in conv.parameters())
    assert conv.weight.requires_grad and not conv.bias.requires_grad
    with pytest.raises(RuntimeError), constant(conv.parameters()):
        raise RuntimeError("boom")
    assert conv.weight.requires_grad
