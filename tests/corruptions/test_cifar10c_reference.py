"""The corruptions against the formulas of ``make_cifar_c.py`` (Hendrycks & Dietterich), as CIFAR-10-C stores them.

The expected values come from ``reference_cifar_c.py``, a numpy transcription of the original's
arithmetic (written for these tests, not robnas's code) fed the random draws robnas makes
(torch's CPU generator, the seeds below). The pinned table is data: regenerate it with
``PYTHONPATH=src python tests/corruptions/reference_cifar_c.py`` only when the transcription
itself is corrected. The live tests run the transcription on a small float32 batch.
"""

from __future__ import annotations

import pytest
import torch

from robnas.corruptions import CIFAR10C_ORDER, corrupt
from robnas.rng import make_generator

from .helpers import level_summary, pinned_image, smooth_images
from .reference_cifar_c import replay

# (corruption, severity, seed, white patch in the image, options,
#  sums of the four 16x16 quadrants per channel, position-weighted checksum, RGB at helpers.PINNED_PIXELS)
PINNED = (
    ("gaussian_noise", 2, 11, False, {},
     [[20251, 31970, 47905, 37865], [36537, 28648, 32714, 36377], [24586, 32283, 45040, 53058]],
     2559700, [(4, 115, 39), (96, 77, 92), (191, 114, 136), (169, 202, 154), (203, 89, 142), (31, 155, 232)]),
    ("shot_noise", 5, 12, False, {},
     [[20286, 32359, 47064, 37091], [35727, 28398, 32716, 36205], [25005, 32457, 45108, 53483]],
     2556705, [(0, 117, 25), (86, 61, 122), (102, 193, 153), (153, 214, 158), (178, 91, 173), (35, 163, 255)]),
    ("impulse_noise", 4, 13, False, {},
     [[21659, 32231, 45487, 38550], [36090, 28828, 32626, 36521], [24383, 32780, 44167, 51926]],
     2556607, [(0, 128, 40), (95, 63, 105), (255, 128, 157), (164, 193, 156), (181, 102, 170), (55, 168, 0)]),
    ("defocus_blur", 3, 14, False, {},
     [[20263, 32501, 47636, 37837], [36079, 28518, 32792, 35913], [24724, 32879, 45125, 53290]],
     2564297, [(6, 138, 45), (96, 66, 106), (169, 129, 158), (163, 191, 155), (181, 102, 170), (53, 164, 254)]),
    ("glass_blur", 5, 15, True, {},
     [[18088, 30186, 46180, 41973], [37574, 27378, 31716, 37737], [23176, 43236, 43423, 51340]],
     2589971, [(0, 130, 40), (87, 73, 242), (164, 125, 251), (154, 173, 149), (179, 100, 169), (39, 150, 247)]),
    ("glass_blur", 5, 15, True, {"shuffle": "swap"},
     [[20357, 32442, 46469, 38218], [35930, 28566, 32308, 35935], [25152, 45216, 45008, 52850]],
     2633730, [(0, 130, 40), (101, 78, 248), (165, 125, 247), (156, 176, 150), (185, 109, 173), (39, 151, 247)]),
    ("motion_blur", 4, 16, False, {},
     [[20648, 32818, 47618, 37777], [34583, 29664, 33621, 35819], [24967, 33104, 45396, 53536]],
     2573838, [(6, 130, 45), (97, 79, 107), (170, 134, 159), (165, 190, 156), (183, 109, 171), (53, 168, 255)]),
    ("zoom_blur", 1, 17, True, {},
     [[19670, 31624, 46989, 40468], [36541, 27539, 32167, 37264], [24310, 45864, 44204, 52183]],
     2630893, [(0, 128, 40), (93, 63, 255), (164, 124, 255), (160, 184, 153), (174, 92, 165), (47, 156, 251)]),
    ("snow", 2, 18, True, {},
     [[28191, 40218, 53964, 44489], [42478, 36682, 41344, 43505], [32213, 50750, 52347, 58917]],
     3146873, [(24, 139, 60), (112, 83, 255), (230, 194, 255), (194, 220, 187), (195, 124, 185), (83, 185, 255)]),
    ("frost", 5, 19, False, {},
     [[37304, 46528, 57114, 49831], [49759, 44133, 47258, 50075], [42105, 48257, 57223, 62665]],
     3550856, [(73, 171, 108), (166, 144, 179), (208, 180, 205), (199, 223, 199), (222, 165, 220), (115, 202, 255)]),
    ("fog", 3, 20, True, {},
     [[21302, 26957, 36439, 30143], [30371, 24709, 27989, 29055], [23852, 34509, 35056, 38979]],
     2154449, [(2, 75, 25), (78, 60, 169), (152, 129, 202), (93, 110, 89), (146, 101, 140), (45, 109, 159)]),
    ("brightness", 4, 21, True, {},
     [[27764, 39412, 58241, 42919], [48503, 35642, 40213, 40844], [33814, 52831, 55272, 59501]],
     3207045, [(0, 179, 55), (95, 63, 255), (168, 128, 255), (207, 243, 197), (232, 130, 217), (55, 167, 255)]),
    ("contrast", 2, 22, False, {},
     [[27380, 33519, 41055, 36198], [34680, 30899, 33016, 34598], [31796, 35886, 42016, 46110]],
     2561273, [(67, 129, 96), (115, 96, 128), (151, 129, 154), (149, 161, 154), (158, 116, 161), (95, 149, 203)]),
    ("elastic_transform", 5, 23, False, {},
     [[20401, 32990, 47147, 37094], [36950, 28902, 32531, 35452], [24824, 33242, 45199, 53654]],
     2568188, [(12, 150, 50), (108, 54, 115), (170, 131, 160), (158, 181, 152), (184, 107, 172), (53, 162, 254)]),
    ("pixelate", 5, 24, False, {},
     [[20423, 32690, 47774, 38050], [36309, 28754, 32985, 36138], [24909, 33088, 45346, 53534]],
     2578809, [(10, 144, 49), (95, 75, 105), (170, 131, 159), (170, 202, 161), (177, 95, 167), (52, 163, 255)]),
    ("jpeg_compression", 4, 25, False, {},
     [[20451, 32561, 47655, 37806], [36295, 28641, 32758, 36085], [24596, 33133, 45395, 52768]],
     2570207, [(0, 138, 27), (90, 71, 103), (166, 130, 158), (168, 188, 163), (188, 99, 167), (57, 158, 255)]),
)


@pytest.mark.parametrize("name, severity, seed, white_patch, options, quadrants, checksum, pixels", PINNED,
                         ids=[f"{c[0]}{'-' + c[4]['shuffle'] if c[4] else ''}" for c in PINNED])
def test_quantized_output_equals_the_pinned_reference_values(name: str, severity: int, seed: int, white_patch: bool,
                                                             options: dict, quadrants: list, checksum: int,
                                                             pixels: list) -> None:
    out = corrupt(name, pinned_image(white_patch), severity, make_generator(seed), quantize=True, **options)[0] * 255
    assert (out - out.round()).abs().max() < 1e-9  # 8-bit levels
    assert level_summary(out) == {"quadrants": quadrants, "checksum": checksum, "pixels": pixels}


def test_the_pinned_cases_cover_every_corruption() -> None:
    assert {case[0] for case in PINNED} == set(CIFAR10C_ORDER)


def levels(images: torch.Tensor) -> torch.Tensor:
    """The 8-bit levels of quantised images (float32 ``k / 255`` times 255 is within an ulp of ``k``)."""
    scaled = images.double() * 255
    assert (scaled - scaled.round()).abs().max() < 1e-4
    return scaled.round()


@pytest.fixture(scope="module")
def batch() -> torch.Tensor:
    """Three float32 images on the 8-bit grid: two smooth ones and one stretched until it saturates
    (flat black and white regions, where truncation depends on float round-off)."""
    x = smooth_images(3, 3, 32, seed=30)
    x[2] = ((x[2] - 0.5) * 2.5 + 0.5).clamp(0, 1)
    return (x * 255).round() / 255


# Where robnas repeats the original's arithmetic up to float32 round-off rather than operation for
# operation, a value that lands within a round-off of a level can truncate one level apart.
NEAR = {"gaussian_noise", "frost", "elastic_transform", "contrast"}
# The original's result is 8-bit by its own rounding (or left on levels), not by the final truncation.
ROUNDED = {"impulse_noise", "motion_blur", "pixelate", "jpeg_compression"}


@pytest.mark.parametrize("name", CIFAR10C_ORDER)
def test_quantized_output_matches_the_transcription_and_floats_lie_half_a_level_above(
        name: str, batch: torch.Tensor) -> None:
    for severity in (2, 5):
        stored = replay(name, batch, severity, seed=severity).double()
        quantized = levels(corrupt(name, batch, severity, make_generator(severity), quantize=True))
        diff = quantized - stored
        if name in NEAR:
            assert diff.abs().max() <= 1 and (diff != 0).double().mean() <= 2e-3, (severity, (diff != 0).sum())
        else:
            assert torch.equal(quantized, stored), (severity, (diff != 0).sum(), diff.abs().max())
        bias = (corrupt(name, batch, severity, make_generator(severity)).double() * 255 - stored).mean()
        if name in ROUNDED:
            assert abs(bias) < 0.35, (severity, bias)
        else:  # np.uint8 truncation drops the fractional part: unquantised floats sit ~0.45 levels higher
            assert 0.3 < bias < 0.6, (severity, bias)


def test_glass_blur_is_the_published_copy_and_the_true_swap_is_far_from_it(batch: torch.Tensor) -> None:
    published = replay("glass_blur", batch, 4, seed=3).double()
    swapped = replay("glass_blur", batch, 4, seed=3, shuffle="swap").double()
    ours = levels(corrupt("glass_blur", batch, 4, make_generator(3), quantize=True))
    ours_swap = levels(corrupt("glass_blur", batch, 4, make_generator(3), quantize=True, shuffle="swap"))
    assert torch.equal(ours, published) and torch.equal(ours_swap, swapped)
    gap = (ours_swap - published).abs()
    assert gap.mean() > 3 and gap.max() > 100, (gap.mean(), gap.max())  # the swap carries pixels far
    default = corrupt("glass_blur", batch, 4, make_generator(3))
    assert torch.equal(default, corrupt("glass_blur", batch, 4, make_generator(3), shuffle="copy"))
