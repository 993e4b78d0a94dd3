"""Model cost: parameter count and FLOPs (PyTorch's own flop counter)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from robnas.models.counting import count_parameters as count_params  # one definition: the published-count rule

__all__ = ["count_params", "count_flops", "nb201_cost"]


def count_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """FLOPs of one eval-mode forward pass on a single input of ``input_shape`` (C, H, W).

    PyTorch counts a multiply-add as 2 FLOPs; NAS papers often quote MACs (half of this).
    """
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros((1, *input_shape), device=device))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def nb201_cost(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[float, float]:
    """(params, FLOPs) in NAS-Bench-201's convention, both in millions.

    Params count every parameter (auxiliary heads included); FLOPs are the multiply-accumulates of the
    convolutions and linear layers, plus one per output of a layer's bias (NAS-Bench-201's counter
    adds the linear bias; robnas' networks have no conv bias in that space). The all-``nor_conv_3x3``
    cell at C=16, N=5 on CIFAR-10 gives 1.531546 M and 220.11969 M, NAS-Bench-201's published figures.
    """
    macs = 0

    def hook(module: nn.Module, _inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal macs
        per_sample = output.numel() // output.shape[0]
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            macs += per_sample * (module.in_channels // module.groups) * kh * kw
        else:  # nn.Linear
            macs += per_sample * module.in_features
        if module.bias is not None:
            macs += per_sample

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), device=device))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    params = sum(p.numel() for p in model.parameters())
    return params / 1e6, macs / 1e6
