"""Random draws for the corruptions, from the caller's generator only (never the global RNG).

Like ``robnas.rng.uniform`` but rescaled in place: the corruptions draw several full-size
tensors per call, and on CPU the extra temporaries of ``rand * (high - low) + low`` cost as
much as the draw itself. Draws happen on the generator's device and are moved to ``like``'s.
"""

from __future__ import annotations

import torch


def uniform(shape: tuple[int, ...] | torch.Size, gen: torch.Generator, like: torch.Tensor,
            low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    """Uniform samples in [low, high) with ``like``'s dtype, on ``like``'s device."""
    out = torch.rand(shape, generator=gen, device=gen.device, dtype=like.dtype)
    if (low, high) != (0.0, 1.0):
        out.mul_(high - low).add_(low)
    return out.to(like.device)


def normal(shape: tuple[int, ...] | torch.Size, gen: torch.Generator, like: torch.Tensor,
           mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
    """Normal samples N(mean, std^2) with ``like``'s dtype, on ``like``'s device."""
    out = torch.randn(shape, generator=gen, device=gen.device, dtype=like.dtype)
    if (mean, std) != (0.0, 1.0):
        out.mul_(std).add_(mean)
    return out.to(like.device)
