"""One split of a dataset as two device-resident tensors, and deterministic ways to cut it.

A :class:`Split` holds every image of the split as ONE uint8 tensor on the device (airbench
style), so a batch is an index into it and nothing is copied per sample. :func:`subset` and
:func:`split_train_val` choose indices with a CPU generator seeded from ``seed``, so the same
seed gives the same indices on every device; both are stratified by label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from robnas.errors import InvalidValueError
from robnas.rng import make_generator


@dataclass(frozen=True, eq=False)
class Split:
    """Images (uint8 ``[N, C, H, W]``) and labels (int64 ``[N]``) on the same device."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise InvalidValueError(
                f"Split images must be uint8 [N, C, H, W], got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.dtype != torch.int64 or self.labels.dim() != 1:
            raise InvalidValueError(
                f"Split labels must be int64 [N], got {self.labels.dtype} {tuple(self.labels.shape)}")
        if len(self.images) != len(self.labels):
            raise InvalidValueError(
                f"Split has {len(self.images)} images but {len(self.labels)} labels; they must match")
        if self.images.device != self.labels.device:
            raise InvalidValueError(
                f"Split images are on {self.images.device} but labels on {self.labels.device}; use one device")

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:  # the default would print both tensors
        return f"Split(n={len(self)}, images=uint8{list(self.images.shape)}, device={self.device})"

    @property
    def device(self) -> torch.device:
        return self.images.device

    def to(self, device: torch.device | str) -> Split:
        """The same split on ``device`` (no copy if it is already there)."""
        return Split(self.images.to(device), self.labels.to(device))

    def select(self, idx: torch.Tensor) -> Split:
        """The samples at ``idx`` (an index tensor), in that order."""
        idx = idx.to(self.device)
        return Split(self.images[idx], self.labels[idx])

    def float_images(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """Images (all, or those at ``idx``) as float32 in [0, 1] on the split's device."""
        raw = self.images if idx is None else self.images[idx.to(self.device)]
        return raw.to(torch.float32).div_(255.0)


def _check_size(size: int, available: int, what: str) -> None:
    if isinstance(size, bool) or not isinstance(size, int):
        raise InvalidValueError(f"{what} must be an integer, got {size!r}")
    if not 0 < size <= available:
        raise InvalidValueError(f"{what}={size} is out of range; use 1..{available} (the split has {available} samples)")


def _class_quotas(counts: torch.Tensor, size: int, gen: torch.Generator) -> torch.Tensor:
    """How many samples of each class a stratified draw of ``size`` takes.

    Largest-remainder rounding of the proportional share; ties are broken in a random (seeded)
    order so that a draw smaller than the number of classes does not always favour class 0.
    """
    share = counts.to(torch.float64) * size / counts.sum()
    quotas = share.floor().to(torch.int64)
    remainder = share - quotas
    left = size - int(quotas.sum())
    if left > 0:
        tie_break = torch.randperm(len(counts), generator=gen)
        # Sort by remainder (descending), then by the random tie-break order.
        order = sorted(range(len(counts)), key=lambda c: (-float(remainder[c]), int(tie_break[c])))
        quotas[torch.tensor(order[:left])] += 1
    return quotas


def stratified_indices(labels: torch.Tensor, size: int, seed: int) -> torch.Tensor:
    """Sorted indices of ``size`` samples, classes represented in proportion to their frequency.

    The draw runs on the CPU with its own generator, so the result depends only on the labels,
    ``size`` and ``seed`` (not on the device or on any global random state).
    """
    labels_cpu = labels.cpu()
    gen = make_generator(seed, "cpu")
    classes, counts = torch.unique(labels_cpu, return_counts=True)
    quotas = _class_quotas(counts, size, gen)
    chosen = []
    for cls, quota in zip(classes.tolist(), quotas.tolist()):  # one step per class, not per sample
        members = torch.nonzero(labels_cpu == cls).flatten()
        chosen.append(members[torch.randperm(len(members), generator=gen)[:quota]])
    return torch.cat(chosen).sort().values


def subset(split: Split, size: int | None, seed: int) -> Split:
    """A deterministic stratified subset of ``size`` samples (the whole split if ``size`` is None)."""
    if size is None:
        return split
    _check_size(size, len(split), "subset size")
    if size == len(split):
        return split
    return split.select(stratified_indices(split.labels, size, seed))


def split_train_val(split: Split, val_size: int | float, seed: int) -> tuple[Split, Split]:
    """Cut ``split`` into disjoint (train, val) parts; ``val_size`` is a count or a fraction in (0, 1).

    The validation part is a stratified draw; the training part is everything else. Both keep
    the original sample order.
    """
    n = len(split)
    if isinstance(val_size, float):
        if not 0.0 < val_size < 1.0:
            raise InvalidValueError(f"val_size={val_size} as a fraction must lie in (0, 1)")
        val_count = round(val_size * n)
    else:
        val_count = val_size
    if n < 2:
        raise InvalidValueError(f"cannot split {n} sample(s) into train and val; need at least 2")
    _check_size(val_count, n - 1, "val_size")
    val_idx = stratified_indices(split.labels, val_count, seed)
    in_val = torch.zeros(n, dtype=torch.bool)
    in_val[val_idx] = True
    train_idx = torch.nonzero(~in_val).flatten()
    return split.select(train_idx), split.select(val_idx)


class LoadedSplits(NamedTuple):
    """What a file-format loader returns: the full train and test splits (on the CPU) and class names."""

    train: Split
    test: Split
    class_names: tuple[str, ...]
