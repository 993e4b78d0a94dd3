"""Common corruptions: API contract, determinism, input validation and severity ordering.

Library-equivalence oracles (scipy, PIL, reference loops) live in test_corruption_oracles.py;
the evaluation helper in test_corruption_evaluate.py.
"""

from __future__ import annotations

import pytest
import torch

from robnas.corruptions import CIFAR10C_ORDER, corrupt, list_corruptions
from robnas.errors import InvalidValueError, UnknownNameError

from .helpers import gen, smooth_images

ALL = list(CIFAR10C_ORDER)
DETERMINISTIC = {"defocus_blur", "zoom_blur", "brightness", "contrast", "pixelate", "jpeg_compression"}
RANDOM = [name for name in ALL if name not in DETERMINISTIC]


def _mean_l2(x: torch.Tensor, y: torch.Tensor) -> float:
    return (y - x).flatten(1).norm(dim=1).mean().item()


def _one_minus_corr(x: torch.Tensor, y: torch.Tensor) -> float:
    """1 - Pearson correlation of each corrupted image with its clean image, averaged."""
    xc = x.flatten(1) - x.flatten(1).mean(1, keepdim=True)
    yc = y.flatten(1) - y.flatten(1).mean(1, keepdim=True)
    return (1 - (xc * yc).sum(1) / (xc.norm(dim=1) * yc.norm(dim=1))).mean().item()


@pytest.fixture(scope="module")
def rgb() -> torch.Tensor:
    return smooth_images(12, 3, 32, seed=1)


@pytest.fixture(scope="module")
def severity_runs(rgb: torch.Tensor) -> dict[str, list[torch.Tensor]]:
    """Every corruption at every severity on the same RGB batch, each with a fresh seed-0 generator."""
    return {name: [corrupt(name, rgb, s, gen(0)) for s in range(1, 6)] for name in ALL}


@pytest.fixture(scope="module")
def grey() -> torch.Tensor:
    return smooth_images(8, 1, 28, seed=4)


def test_the_fifteen_cifar10c_corruptions_are_registered_in_benchmark_order() -> None:
    assert list_corruptions() == ALL
    assert len(ALL) == 15
    assert list_corruptions("*_blur") == ["defocus_blur", "glass_blur", "motion_blur", "zoom_blur"]


def test_every_corruption_and_severity_keeps_shape_dtype_and_range(rgb: torch.Tensor,
                                                                   severity_runs: dict[str, list[torch.Tensor]]) -> None:
    for name, outs in severity_runs.items():
        for severity, out in enumerate(outs, start=1):
            assert out.shape == rgb.shape and out.dtype == rgb.dtype and out.device == rgb.device, (name, severity)
            assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1, (name, severity)
            assert not torch.equal(out, rgb), f"{name} severity {severity} left the images unchanged"


@pytest.mark.parametrize("shape", [(3, 1, 28, 28), (2, 3, 8, 8), (2, 1, 8, 8), (2, 3, 13, 21)])
def test_greyscale_small_and_non_square_images_work(shape: tuple[int, int, int, int]) -> None:
    x = smooth_images(shape[0], shape[1], max(shape[2:]), seed=2)[..., :shape[2], :shape[3]].contiguous()
    for name in ALL:
        out = corrupt(name, x, 5 if shape[2] <= 8 else 3, gen(1))
        assert out.shape == x.shape and out.dtype == x.dtype, name
        assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1, name


def test_float64_stays_float64_and_half_precision_is_accepted() -> None:
    x = smooth_images(2, 3, 16, seed=3)
    for name in ("jpeg_compression", "elastic_transform", "shot_noise"):
        assert corrupt(name, x.double(), 2, gen()).dtype == torch.float64
        out16 = corrupt(name, x.bfloat16(), 2, gen())
        assert out16.dtype == torch.bfloat16 and out16.shape == x.shape


def test_same_seed_gives_the_same_images_and_another_seed_different_ones(rgb: torch.Tensor) -> None:
    x = rgb[:4]
    for name in ALL:
        a = corrupt(name, x, 3, gen(5))
        assert torch.equal(a, corrupt(name, x, 3, gen(5))), name
        if name in RANDOM:
            assert not torch.equal(a, corrupt(name, x, 3, gen(6))), f"{name} ignores the seed"


def test_the_global_rng_is_never_used(rgb: torch.Tensor) -> None:
    x = rgb[:2]
    state = torch.get_rng_state()
    for name in ALL:
        corrupt(name, x, 4, gen(7))
    assert torch.equal(torch.get_rng_state(), state)


def test_the_generator_is_the_only_source_of_randomness(rgb: torch.Tensor) -> None:
    """Re-seeding the global RNG between calls changes nothing when the generator is re-seeded too."""
    x = rgb[:2]
    with torch.random.fork_rng():
        torch.manual_seed(1)
        a = corrupt("snow", x, 2, gen(3))
        torch.manual_seed(2)
        b = corrupt("snow", x, 2, gen(3))
    assert torch.equal(a, b)


def test_unknown_names_raise_the_registry_error_before_looking_at_the_inputs() -> None:
    with pytest.raises(UnknownNameError, match="gaussian_noise"):
        corrupt("gausian_noise", torch.zeros(1, 3, 8, 8), 1, gen())
    with pytest.raises(UnknownNameError):  # protocol_for validates corruption names this way
        corrupt("speckle_noise", None, 1, None)  # type: ignore[arg-type]
    assert corrupt("Gaussian_Noise", torch.zeros(1, 1, 8, 8), 1, gen()).shape == (1, 1, 8, 8)


@pytest.mark.parametrize("severity", [0, 6, -1, 2.0, True, "3", None])
def test_severity_outside_1_to_5_is_refused(severity: object) -> None:
    with pytest.raises(InvalidValueError, match="severity"):
        corrupt("contrast", torch.zeros(1, 3, 8, 8), severity, gen())  # type: ignore[arg-type]


@pytest.mark.parametrize("images, match", [
    (torch.zeros(1, 3, 8, 8, dtype=torch.uint8), "float"),
    (torch.zeros(3, 8, 8), r"\[N, C, H, W\]"),
    (torch.zeros(1, 2, 8, 8), "C = 1"),
    (torch.full((1, 3, 8, 8), 1.5), r"\[0, 1\]"),
    (torch.full((1, 3, 8, 8), -0.1), r"\[0, 1\]"),
    ([[0.0]], "Tensor"),
])
def test_bad_images_are_refused_with_a_clear_message(images: object, match: str) -> None:
    with pytest.raises(InvalidValueError, match=match):
        corrupt("fog", images, 1, gen())  # type: ignore[arg-type]


def test_a_generator_is_required() -> None:
    with pytest.raises(InvalidValueError, match="Generator"):
        corrupt("fog", torch.zeros(1, 3, 8, 8), 1, 0)  # type: ignore[arg-type]


def test_an_empty_batch_comes_back_empty() -> None:
    out = corrupt("glass_blur", torch.zeros(0, 3, 32, 32), 5, gen())
    assert out.shape == (0, 3, 32, 32)


# Severity ordering. The inputs are smooth random colour images (see helpers.smooth_images): on
# them a perturbation grows with the strength of the constants, so the mean change ||c(x) - x||
# must rise strictly with severity -- except where CIFAR-10-C's own constants are not ordered,
# which the next tests pin down explicitly instead of hiding:
#   motion_blur   severities 3 and 4 share sigma = 2; ImageMagick's kernel taps beyond ~4 sigma
#                 weigh < 1e-9, so radius 6 vs 8 makes no visible difference;
#   glass_blur    severities 1 and 2 blur by sigma 0.05 and 0.25 (neighbour weight 3e-4): both are
#                 nearly the bare pixel shuffle; more blur *smooths away* shuffle noise (3 < 2);
#   frost         the image weight falls (1 -> 0.75) while the frost weight rises: the mean change
#                 peaks at severity 3, but the image's share of the result falls throughout;
#   elastic       the affine jitter shrinks (2.56 -> 0.96 px) while the local displacement grows.
L2_ORDERED = [n for n in ALL if n not in {"motion_blur", "glass_blur", "frost", "elastic_transform"}]


@pytest.mark.parametrize("name", L2_ORDERED)
def test_mean_change_grows_strictly_with_severity(name: str, rgb: torch.Tensor,
                                                  severity_runs: dict[str, list[torch.Tensor]]) -> None:
    sizes = [_mean_l2(rgb, out) for out in severity_runs[name]]
    assert all(a < b for a, b in zip(sizes, sizes[1:])), sizes


def test_mean_change_grows_strictly_with_severity_on_greyscale_too(grey: torch.Tensor) -> None:
    for name in L2_ORDERED:
        sizes = [_mean_l2(grey, corrupt(name, grey, s, gen(0))) for s in range(1, 6)]
        assert all(a < b for a, b in zip(sizes, sizes[1:])), (name, sizes)


def test_motion_blur_grows_except_for_the_two_equal_sigma_severities(
        rgb: torch.Tensor, severity_runs: dict[str, list[torch.Tensor]]) -> None:
    outs = severity_runs["motion_blur"]
    s1, s2, s3, s4, s5 = (_mean_l2(rgb, out) for out in outs)
    assert s1 < s2 < s3 < s5 and s4 < s5
    assert (outs[2] - outs[3]).abs().max() < 1e-6  # same angles, same effective kernel


def test_glass_blur_follows_its_sigma_and_iteration_constants(
        rgb: torch.Tensor, severity_runs: dict[str, list[torch.Tensor]]) -> None:
    outs = severity_runs["glass_blur"]
    s1, s2, s3, s4, s5 = (_mean_l2(rgb, out) for out in outs)
    assert (outs[0] - outs[1]).abs().mean() < 0.01 * (outs[0] - rgb).abs().mean() + 1e-3  # ~same
    assert s4 > s2 and s5 > s3  # a second shuffle pass at the same sigma moves more pixels
    assert s3 < s2 and s5 < s4  # a wider Gaussian smooths the shuffled pixels back


def test_frost_takes_a_growing_share_of_the_image(rgb: torch.Tensor,
                                                  severity_runs: dict[str, list[torch.Tensor]]) -> None:
    decorrelation = [_one_minus_corr(rgb, out) for out in severity_runs["frost"]]
    assert all(a < b for a, b in zip(decorrelation, decorrelation[1:])), decorrelation
    sizes = [_mean_l2(rgb, out) for out in severity_runs["frost"]]
    assert sizes[0] < sizes[1] < sizes[2]


def test_elastic_transform_shrinks_the_affine_part_and_grows_the_local_displacement(rgb: torch.Tensor) -> None:
    from robnas.corruptions.digital import ELASTIC, random_affine, random_displacement

    affine = [_mean_l2(rgb, random_affine(rgb, jitter * 32, gen(0))) for _, _, jitter in ELASTIC]
    local = [_mean_l2(rgb, random_displacement(rgb, alpha * 32, sigma * 32, gen(0)))
             for alpha, sigma, _ in ELASTIC[1:]]
    assert all(a > b for a, b in zip(affine, affine[1:])), affine
    assert all(a < b for a, b in zip(local, local[1:])), local


# Options and the 8-bit output of corrupt(..., quantize=True).

def test_quantize_is_off_by_default_and_on_returns_8bit_levels_for_every_corruption(rgb: torch.Tensor) -> None:
    x = rgb[:2]
    for name in ALL:
        assert torch.equal(corrupt(name, x, 3, gen(4)), corrupt(name, x, 3, gen(4), quantize=False)), name
        for severity in (1, 5):
            out = corrupt(name, x, severity, gen(4), quantize=True)
            assert out.shape == x.shape and out.dtype == x.dtype, name
            scaled = out.double() * 255
            assert (scaled - scaled.round()).abs().max() < 1e-4 and out.min() >= 0 and out.max() <= 1, name


@pytest.mark.parametrize("shape", [(2, 1, 28, 28), (2, 3, 8, 8), (2, 3, 13, 21)])
def test_quantize_works_on_greyscale_small_and_non_square_images(shape: tuple[int, int, int, int]) -> None:
    x = smooth_images(shape[0], shape[1], max(shape[2:]), seed=5)[..., :shape[2], :shape[3]].contiguous()
    for name in ALL:
        out = corrupt(name, x, 4, gen(2), quantize=True)
        scaled = out.double() * 255
        assert out.shape == x.shape and (scaled - scaled.round()).abs().max() < 1e-4, name
    assert corrupt("brightness", x.bfloat16(), 2, gen(), quantize=True).dtype == torch.bfloat16


def test_quantize_takes_the_input_as_the_8bit_image_the_original_corrupts() -> None:
    x = smooth_images(2, 3, 16, seed=6)  # off the 1/255 grid
    on_grid = (x * 255).round() / 255
    for name in ("contrast", "pixelate", "glass_blur", "jpeg_compression"):
        assert torch.equal(corrupt(name, x, 2, gen(1), quantize=True), corrupt(name, on_grid, 2, gen(1), quantize=True))


def test_corruption_options_are_checked_by_name_and_value() -> None:
    x = torch.rand(1, 3, 8, 8, generator=gen())
    with pytest.raises(InvalidValueError, match="no option swap; its options: shuffle"):
        corrupt("glass_blur", x, 1, gen(), swap=True)
    with pytest.raises(InvalidValueError, match="its options: none"):
        corrupt("gaussian_noise", x, 1, gen(), shuffle="copy")
    with pytest.raises(InvalidValueError, match="shuffle must be one of copy, swap"):
        corrupt("glass_blur", x, 1, gen(), shuffle="true")
    with pytest.raises(InvalidValueError, match="quantize=True or False"):
        corrupt("contrast", x, 1, gen(), quantize=1)  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError):  # the name is still checked first
        corrupt("no_such_blur", x, 1, gen(), quantize=True, shuffle="copy")
