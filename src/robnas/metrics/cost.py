"""Model cost: parameter count and FLOPs (PyTorch's own flop counter)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module, exclude_auxiliary: bool = True) -> int:
    """Trainable parameters; the DARTS auxiliary head is excluded, as in the published counts."""
    return sum(
        p.numel()
        for name, p in model.named_parameters()
        if p.requires_grad and not (exclude_auxiliary and "auxiliary" in name)
    )


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
