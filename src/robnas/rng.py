"""Explicit random generators: randomness flows from a seed, never from the global RNG.

Attacks and augmentation take a :class:`torch.Generator` so that evaluating a model does not
change the caller's global random state, and the same seed reproduces the same result.
"""

from __future__ import annotations

import torch


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A fresh generator on ``device`` seeded with ``seed``."""
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(int(seed))
    return gen


def uniform(shape: torch.Size | tuple[int, ...], gen: torch.Generator, like: torch.Tensor,
            low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    """Uniform samples in [low, high) drawn from ``gen`` (on the generator's device), moved to ``like``."""
    out = torch.rand(shape, generator=gen, device=gen.device, dtype=like.dtype)
    return (out * (high - low) + low).to(like.device)


def normal(shape: torch.Size | tuple[int, ...], gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """Standard normal samples drawn from ``gen``, moved to ``like``'s device and dtype."""
    return torch.randn(shape, generator=gen, device=gen.device, dtype=like.dtype).to(like.device)
