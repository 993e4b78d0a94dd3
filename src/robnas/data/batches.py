"""Batches as index slices of a device-resident :class:`Split` (no DataLoader, no workers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch

from robnas.data.split import Split
from robnas.errors import InvalidValueError

if TYPE_CHECKING:
    from robnas.data.augment import Augment


def iterate_batches(split: Split, batch_size: int, shuffle: bool = False,
                    generator: torch.Generator | None = None, drop_last: bool = False,
                    augment: Augment | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(images, labels)``: float32 images in [0, 1] and int64 labels on the split's device.

    Shuffling and augmentation draw only from ``generator`` (never the global RNG), so they
    require one; the same generator state gives the same epoch. With ``drop_last`` a final
    batch smaller than ``batch_size`` is skipped.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise InvalidValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    uses_randomness = shuffle or (augment is not None and augment.is_random)
    if uses_randomness and generator is None:
        raise InvalidValueError("shuffle/augment need an explicit torch.Generator (robnas.rng.make_generator(seed))")
    n = len(split)
    order = None
    if shuffle:
        assert generator is not None  # checked above; narrows the type
        order = torch.randperm(n, generator=generator, device=generator.device).to(split.device)
    stop_at = n - n % batch_size if drop_last else n
    for start in range(0, stop_at, batch_size):
        stop = min(start + batch_size, n)
        if order is None:
            # A contiguous slice is a view: no gather needed when the order is fixed.
            images = split.images[start:stop].to(torch.float32).div_(255.0)
            labels = split.labels[start:stop]
        else:
            idx = order[start:stop]
            images = split.float_images(idx)
            labels = split.labels[idx]
        if augment is not None and augment.is_random and generator is not None:
            images = augment(images, generator)
        yield images, labels
