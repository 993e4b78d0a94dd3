"""Batches as index slices of a device-resident :class:`Split` (no DataLoader, no workers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch

from robnas.checks import positive_int
from robnas.data.split import Split
from robnas.distributed import World, shard_bounds
from robnas.errors import InvalidValueError

if TYPE_CHECKING:
    from robnas.data.augment import Augment


def count_batches(points: int, batch_size: int, world: World | None = None) -> int:
    """How many batches :func:`iterate_batches` yields for ``points`` points (without ``drop_last``)."""
    full, rest = divmod(points, batch_size)
    smallest = world.size if world is not None and world.enabled else 1
    return full + (rest >= smallest)


def iterate_batches(split: Split, batch_size: int, shuffle: bool = False,
                    generator: torch.Generator | None = None, drop_last: bool = False,
                    augment: Augment | None = None, world: World | None = None
                    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(images, labels)``: float32 images in [0, 1] and int64 labels on the split's device.

    Shuffling and augmentation draw only from ``generator`` (never the global RNG), so they
    require one; the same generator state gives the same epoch. With ``drop_last`` a final
    batch smaller than ``batch_size`` is skipped.

    With a ``world`` of several ranks, ``batch_size`` is the global batch and each rank gets its
    rows of it (:func:`robnas.distributed.shard_bounds`). Every rank draws the same permutation
    and the augmentation of the WHOLE global batch from the shared generator, so the generator's
    state, and each point's augmentation, are those of a single-process run; a global batch with
    fewer points than ranks is skipped.
    """
    positive_int("iterate_batches", "batch_size", batch_size)
    uses_randomness = shuffle or (augment is not None and augment.is_random)
    if uses_randomness and generator is None:
        raise InvalidValueError("shuffle/augment need an explicit torch.Generator (robnas.rng.make_generator(seed))")
    n = len(split)
    order = None
    if shuffle:
        assert generator is not None  # checked above; narrows the type
        order = torch.randperm(n, generator=generator, device=generator.device).to(split.device)
    stop_at = n - n % batch_size if drop_last else n
    shards = world if world is not None and world.enabled else None
    augmenting = augment is not None and augment.is_random
    for first in range(0, stop_at, batch_size):
        start, stop = first, min(first + batch_size, n)
        if shards is not None and stop - start < shards.size:
            break
        if shards is not None and not augmenting:
            # Without augmentation only this rank's rows need to be gathered.
            lo, hi = shard_bounds(stop - start, shards)
            start, stop = start + lo, start + hi
        if order is None:
            # A contiguous slice is a view: no gather needed when the order is fixed.
            images = split.images[start:stop].to(torch.float32).div_(255.0)
            labels = split.labels[start:stop]
        else:
            idx = order[start:stop]
            images = split.float_images(idx)
            labels = split.labels[idx]
        if augment is not None and augmenting and generator is not None:
            images = augment(images, generator)
            if shards is not None:
                lo, hi = shard_bounds(len(labels), shards)
                images, labels = images[lo:hi], labels[lo:hi]
        yield images, labels
