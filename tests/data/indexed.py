"""Splits whose images encode their own index, so derived splits reveal which samples they took."""

from __future__ import annotations

import torch

from robnas.data import Split


def indexed_split(labels: list[int] | torch.Tensor) -> Split:
    """A split whose image k stores k (two bytes), so a derived split reveals which indices it took."""
    labels = torch.as_tensor(labels, dtype=torch.int64)
    k = torch.arange(len(labels))
    images = torch.stack([k // 256, k % 256], dim=1).to(torch.uint8).reshape(-1, 1, 1, 2)
    return Split(images, labels)


def indices_of(split: Split) -> list[int]:
    """The original indices of the samples in a split derived from :func:`indexed_split`."""
    return indices_of_images(split.float_images())


def indices_of_images(images: torch.Tensor) -> list[int]:
    """The original indices encoded in a batch of float images in [0, 1] (see :func:`indexed_split`)."""
    pixels = (images.reshape(-1, 2) * 255).round().to(torch.int64)
    return (pixels[:, 0] * 256 + pixels[:, 1]).tolist()
