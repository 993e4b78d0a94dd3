"""Model cost: parameter count and FLOPs (PyTorch's own flop counter)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from robnas.models.counting import count_parameters as count_params  # one definition: the published-count rule

__all__ = ["count_params", "count_flops"]


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
