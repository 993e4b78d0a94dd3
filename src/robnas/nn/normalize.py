"""Input normalisation as the first layer of every model.

Models take images in [0, 1]; the per-channel mean/std of the dataset live inside the model as
buffers (saved with the weights, never trained), so attack budgets are in pixel units and a
checkpoint carries everything needed to use it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from robnas.errors import InvalidValueError


def _channel_stats(name: str, values: Sequence[float], in_channels: int) -> list[float]:
    try:
        stats = [float(v) for v in values]
    except (TypeError, ValueError):
        raise InvalidValueError(f"{name} must be a list of {in_channels} numbers, got {values!r}") from None
    if len(stats) != in_channels:
        raise InvalidValueError(
            f"{name} has {len(stats)} values but the model has {in_channels} input channels; give one per channel"
        )
    if not all(math.isfinite(v) for v in stats):
        raise InvalidValueError(f"{name} must be finite, got {stats}")
    return stats


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel; the identity when no statistics are given."""

    certify_affine_combination = True  # robnas.certify: forward combines its children affinely

    mean: torch.Tensor | None
    std: torch.Tensor | None

    def __init__(self, mean: Sequence[float] | None, std: Sequence[float] | None, in_channels: int) -> None:
        super().__init__()
        if (mean is None) != (std is None):
            raise InvalidValueError("give both mean and std for input normalisation, or neither")
        if mean is None or std is None:
            self.register_buffer("mean", None)
            self.register_buffer("std", None)
            return
        mean_values = _channel_stats("mean", mean, in_channels)
        std_values = _channel_stats("std", std, in_channels)
        if any(s <= 0 for s in std_values):
            raise InvalidValueError(f"std must be positive for every channel, got {std_values}")
        self.register_buffer("mean", torch.tensor(mean_values).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std_values).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mean is None or self.std is None:
            return x
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        if self.mean is None or self.std is None:
            return "identity"
        return f"mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}"


class NormalizedClassifier(nn.Module):
    """A network preceded by its input normalisation; ``spec`` describes how to rebuild it."""

    certify_affine_combination = True  # robnas.certify: forward combines its children affinely

    spec: dict

    def __init__(self, normalize: Normalize, net: nn.Module) -> None:
        super().__init__()
        self.normalize = normalize
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        return self.net(self.normalize(x))
