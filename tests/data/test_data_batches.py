"""iterate_batches: exact coverage per epoch, drop_last, explicit-generator shuffling."""

from __future__ import annotations

import pytest
import torch

from robnas.data import Augment, iterate_batches
from robnas.errors import InvalidValueError
from robnas.rng import make_generator

from .indexed import indexed_split, indices_of_images


def test_unshuffled_batches_walk_the_split_in_order() -> None:
    split = indexed_split(torch.arange(23) % 3)
    batches = list(iterate_batches(split, 5))
    assert [len(labels) for _, labels in batches] == [5, 5, 5, 5, 3]
    images = torch.cat([x for x, _ in batches])
    assert images.dtype == torch.float32 and 0.0 <= images.min() and images.max() <= 1.0
    assert indices_of_images(images) == list(range(23))
    assert torch.equal(torch.cat([y for _, y in batches]), split.labels)
    assert all(y.dtype == torch.int64 and x.device == split.device for x, y in batches)


def test_shuffled_epoch_covers_every_index_once_and_labels_follow() -> None:
    split = indexed_split(torch.arange(50) % 7)
    seen = []
    for images, labels in iterate_batches(split, 8, shuffle=True, generator=make_generator(0)):
        idx = indices_of_images(images)
        assert labels.tolist() == split.labels[idx].tolist()
        seen += idx
    assert sorted(seen) == list(range(50)) and seen != list(range(50))


def test_shuffle_is_reproducible_from_the_generator_and_leaves_global_rng_alone() -> None:
    split = indexed_split(torch.arange(40) % 4)
    state = torch.get_rng_state()
    first = [y for _, y in iterate_batches(split, 16, shuffle=True, generator=make_generator(5))]
    second = [y for _, y in iterate_batches(split, 16, shuffle=True, generator=make_generator(5))]
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    gen = make_generator(5)
    epoch1 = [indices_of_images(x) for x, _ in iterate_batches(split, 40, shuffle=True, generator=gen)]
    epoch2 = [indices_of_images(x) for x, _ in iterate_batches(split, 40, shuffle=True, generator=gen)]
    assert epoch1 != epoch2  # the generator advances between epochs


@pytest.mark.parametrize("shuffle", [False, True])
def test_drop_last_skips_the_short_batch(shuffle: bool) -> None:
    split = indexed_split(torch.arange(23) % 3)
    batches = list(iterate_batches(split, 5, shuffle=shuffle, generator=make_generator(1), drop_last=True))
    assert [len(y) for _, y in batches] == [5, 5, 5, 5]
    seen = [i for x, _ in batches for i in indices_of_images(x)]
    assert len(set(seen)) == 20
    assert len(list(iterate_batches(split, 30, drop_last=True))) == 0


def test_augment_is_applied_per_batch() -> None:
    split = indexed_split(torch.arange(64) % 2)
    flip = Augment(flip=True)
    plain = torch.cat([x for x, _ in iterate_batches(split, 16)])
    flipped = torch.cat([x for x, _ in iterate_batches(split, 16, generator=make_generator(0), augment=flip)])
    assert flipped.shape == plain.shape
    was_flipped = (flipped == plain.flip(3)).flatten(1).all(1) & ~(flipped == plain).flatten(1).all(1)
    assert 0 < int(was_flipped.sum()) < 64


def test_bad_arguments_are_rejected() -> None:
    split = indexed_split(torch.arange(10) % 2)
    with pytest.raises(InvalidValueError, match="batch_size"):
        next(iterate_batches(split, 0))
    with pytest.raises(InvalidValueError, match="explicit torch.Generator"):
        next(iterate_batches(split, 4, shuffle=True))
    with pytest.raises(InvalidValueError, match="explicit torch.Generator"):
        next(iterate_batches(split, 4, augment=Augment(cutout=2)))
    # An augmentation that does nothing needs no generator.
    assert len(list(iterate_batches(split, 4, augment=Augment()))) == 3
