"""Augment: batched crop / flip / cutout with exact semantics, drawn only from the given generator."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from robnas.data import Augment
from robnas.errors import InvalidValueError
from robnas.rng import make_generator


def _distinct_images(batch: int = 32, channels: int = 3, size: int = 12) -> torch.Tensor:
    """Float images in [0, 1] with no two pixels equal within an image, so any shift is identifiable."""
    values = torch.rand(batch, channels * size * size, generator=make_generator(123)).argsort(1)
    return (values.float() / (channels * size * size)).reshape(batch, channels, size, size) + 1e-3


@pytest.mark.parametrize("dtype", [torch.float32, torch.uint8])
def test_shape_dtype_and_range_are_preserved(dtype: torch.dtype) -> None:
    x = _distinct_images()
    x = (x * 255).to(torch.uint8) if dtype == torch.uint8 else x.clamp(0, 1)
    out = Augment(crop_padding=3, flip=True, cutout=5)(x, make_generator(0))
    assert out.shape == x.shape and out.dtype == dtype and out.device == x.device
    assert out.min() >= 0 and out.max() <= (255 if dtype == torch.uint8 else 1.0)


def test_same_seed_same_output_and_global_rng_untouched() -> None:
    x = _distinct_images()
    augment = Augment(crop_padding=4, flip=True, cutout=4)
    state = torch.get_rng_state()
    a = augment(x, make_generator(9))
    b = augment(x, make_generator(9))
    c = augment(x, make_generator(10))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_flip_is_a_mirror_image_for_about_half_the_batch() -> None:
    x = _distinct_images(batch=64)
    out = Augment(flip=True)(x, make_generator(1))
    mirrored = (out == x.flip(3)).flatten(1).all(1)
    unchanged = (out == x).flatten(1).all(1)
    assert bool((mirrored ^ unchanged).all())  # every image is exactly one of the two
    assert 16 <= int(mirrored.sum()) <= 48


def test_crop_equals_a_window_of_the_zero_padded_image() -> None:
    pad, size = 3, 12
    x = _distinct_images(size=size)
    out = Augment(crop_padding=pad)(x, make_generator(2))
    padded = F.pad(x, (pad, pad, pad, pad))
    offsets = []
    for b in range(len(x)):  # the test may loop; the code under test does not
        matches = [(i, j) for i in range(2 * pad + 1) for j in range(2 * pad + 1)
                   if torch.equal(out[b], padded[b, :, i:i + size, j:j + size])]
        assert len(matches) == 1, f"image {b} is not a window of its padded version"
        offsets.append(matches[0])
    assert len(set(offsets)) > 5  # offsets vary across the batch
    assert {i for i, _ in offsets} <= set(range(2 * pad + 1))


def _zero_box(image: torch.Tensor) -> tuple[int, int, int, int, int]:
    """Bounding box (top, bottom, left, right) of the zero pixels and their count (channel 0)."""
    zeros = image[0] == 0
    rows = torch.nonzero(zeros.any(1)).flatten()
    cols = torch.nonzero(zeros.any(0)).flatten()
    return int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max()), int(zeros.sum())


@pytest.mark.parametrize("length", [4, 5])
def test_cutout_zeros_one_clipped_square_of_the_right_size(length: int) -> None:
    size = 10
    x = torch.ones(200, 2, size, size)
    out = Augment(cutout=length)(x, make_generator(3))
    assert torch.equal(out[:, 0], out[:, 1])  # the same square in every channel
    full_squares = 0
    for image in out:
        top, bottom, left, right, count = _zero_box(image)
        height, width = bottom - top + 1, right - left + 1
        assert count == height * width  # the zeros form a solid rectangle
        assert height <= length and width <= length
        # Only a square clipped by a border may be smaller than length x length.
        assert height == length or top == 0 or bottom == size - 1
        assert width == length or left == 0 or right == size - 1
        full_squares += height == length and width == length
    assert full_squares > 0
    assert (out == 1).any(dim=(1, 2, 3)).all()  # never the whole image


def test_all_off_is_identity_and_draws_nothing() -> None:
    x = _distinct_images()
    gen = make_generator(4)
    state = gen.get_state()
    assert torch.equal(Augment()(x, gen), x)
    assert torch.equal(gen.get_state(), state)
    assert not Augment().is_random and Augment(flip=True).is_random


@pytest.mark.parametrize("kwargs", [{"crop_padding": -1}, {"cutout": -2}, {"cutout": 1.5}, {"crop_padding": True}])
def test_invalid_parameters_are_rejected(kwargs: dict) -> None:
    with pytest.raises(InvalidValueError, match="Augment"):
        Augment(**kwargs)


def test_non_batched_input_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match=r"\[B, C, H, W\]"):
        Augment(flip=True)(torch.zeros(3, 8, 8), make_generator(0))
