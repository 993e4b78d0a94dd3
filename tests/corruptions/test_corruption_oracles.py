"""The corruptions against the libraries the original script called (scipy, PIL) and against
direct reference loops of the sequential algorithms (ImageMagick's motion blur, glass blur's swap
chain, the diamond-square fractal), fed the same random draws where randomness is involved."""

from __future__ import annotations

import colorsys
import io
import math

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch
from PIL import Image

from robnas.corruptions import corrupt
from robnas.corruptions.blur import DEFOCUS, ZOOM, copy_sources, disk_kernel, swap_positions, swap_sources
from robnas.corruptions.digital import (BRIGHTNESS, CONTRAST, ELASTIC, JPEG_QUALITY, PIXELATE, affine_source_coords,
                                        random_affine, random_displacement)
from robnas.corruptions.filters import filter2d, gaussian_blur
from robnas.corruptions.frost_texture import PROFILE_MEAN, frost_texture
from robnas.corruptions.jpeg import jpeg_roundtrip
from robnas.corruptions.motion import motion_blur, motion_blur_8bit, motion_kernel
from robnas.corruptions.noise import GAUSSIAN_SIGMA, IMPULSE_AMOUNT, SHOT_PHOTONS
from robnas.corruptions.plasma import plasma_fractal
from robnas.corruptions.resample import sample_bilinear
from robnas.corruptions.weather import FOG, SNOW, grey

from . import reference_cifar_c as reference
from .helpers import gen, smooth_images

SCIPY_MODES = {"symmetric": "reflect", "reflect101": "mirror", "replicate": "nearest"}


def _numpy_clipped_zoom(img: np.ndarray, factor: float) -> np.ndarray:
    """The original's clipped_zoom on an [H, W] array (square images, as CIFAR's)."""
    h = img.shape[0]
    ch = int(np.ceil(h / factor))
    top = (h - ch) // 2
    zoomed = ndi.zoom(img[top:top + ch, top:top + ch], (factor, factor), order=1)
    trim = (zoomed.shape[0] - h) // 2
    return zoomed[trim:trim + h, trim:trim + h]


def test_zoom_factors_are_numpys_arange_values() -> None:
    expected = [np.arange(1, stop, 0.01) for stop in (1.06, 1.11, 1.16, 1.21, 1.26)]
    assert [list(z) for z in ZOOM] == [list(e) for e in expected]


@pytest.mark.parametrize("size, severity", [(32, 5), (32, 3), (28, 4), (8, 5)])
def test_zoom_blur_matches_scipy_zoom(size: int, severity: int) -> None:
    x = smooth_images(2, 3, size, seed=10).double()
    got = corrupt("zoom_blur", x, severity, gen())
    for n in range(2):
        for c in range(3):
            img = x[n, c].numpy()
            ref = (img + sum(_numpy_clipped_zoom(img, z) for z in ZOOM[severity - 1])) / (len(ZOOM[severity - 1]) + 1)
            np.testing.assert_allclose(got[n, c].numpy(), np.clip(ref, 0, 1), atol=1e-12)


@pytest.mark.parametrize("size", [32, 28, 8])
def test_pixelate_matches_pil_box_resize(size: int) -> None:
    x = smooth_images(2, 3, size, seed=11)
    for severity, factor in enumerate(PIXELATE, start=1):
        got = corrupt("pixelate", x, severity, gen())
        small = int(size * factor)
        for n in range(2):
            for c in range(3):
                img = Image.fromarray(x[n, c].numpy(), mode="F")
                ref = np.asarray(img.resize((small, small), Image.BOX).resize((size, size), Image.BOX))
                np.testing.assert_allclose(got[n, c].numpy(), ref, atol=1e-5)


@pytest.mark.parametrize("channels, height, width", [(3, 32, 32), (1, 28, 28), (3, 8, 8), (3, 13, 21)])
def test_quantized_pixelate_is_pils_8bit_resize_bit_for_bit(channels: int, height: int, width: int) -> None:
    x = smooth_images(3, channels, max(height, width), seed=18)[..., :height, :width].contiguous()
    x = (x * 255).round() / 255
    for severity, factor in enumerate(PIXELATE, start=1):
        got = corrupt("pixelate", x, severity, gen(), quantize=True)
        for n in range(3):
            array = (x[n].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            pil = Image.fromarray(array[..., 0], mode="L") if channels == 1 else Image.fromarray(array)
            small = pil.resize((int(width * factor), int(height * factor)), Image.BOX)
            small = small.resize((width, height), Image.BOX)
            expected = np.asarray(small).reshape(height, width, channels)
            assert np.array_equal((got[n].permute(1, 2, 0).numpy() * 255).round(), expected), (severity, n)


def test_quantized_motion_blur_is_imagemagicks_q16_round_trip() -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (7, 9, 3)).astype(np.uint8)
    angles = [-135.0, -60.0, -45.0, 0.0, 17.0, 44.9]
    x = torch.from_numpy(np.stack([img] * len(angles))).permute(0, 3, 1, 2).double() / 255
    got = motion_blur_8bit(x, 6, 2.0, torch.tensor(angles, dtype=torch.float64))
    for i, angle in enumerate(angles):
        expected = reference.imagemagick_motion_blur(img, 6, 2.0, angle)
        assert np.array_equal((got[i].permute(1, 2, 0).numpy() * 255).round(), expected), angle


def _pil_jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    out = []
    for img in x:
        array = (img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        pil = Image.fromarray(array[..., 0], mode="L") if array.shape[2] == 1 else Image.fromarray(array)
        buffer = io.BytesIO()
        pil.save(buffer, "JPEG", quality=quality)
        decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue()))).astype(np.float32) / 255
        out.append(torch.from_numpy(decoded.reshape(img.shape[1], img.shape[2], -1)).permute(2, 0, 1))
    return torch.stack(out)


@pytest.mark.parametrize("channels, height, width", [(3, 32, 32), (1, 28, 28), (3, 28, 28), (3, 8, 8), (3, 13, 21)])
def test_jpeg_matches_pil_bit_for_bit(channels: int, height: int, width: int) -> None:
    """PIL's JPEG (libjpeg-turbo: islow integer DCTs, reciprocal quantiser, fixed-point colour
    conversion, 4:2:0 with fancy upsampling) and ours agree exactly, on smooth images and on noise."""
    x = smooth_images(8, channels, max(height, width), seed=12)[..., :height, :width].contiguous()
    noise = torch.rand(x.shape, generator=gen(12))
    x = (torch.cat([x, noise]) * 255).round() / 255
    for quality in JPEG_QUALITY:
        assert torch.equal(jpeg_roundtrip(x, quality), _pil_jpeg(x, quality)), quality


def test_jpeg_is_lossy_like_pil() -> None:
    x = smooth_images(8, 3, 32, seed=13)
    for quality in (80, 40):
        ours = (jpeg_roundtrip(x, quality) - x).abs().mean()
        pil = (_pil_jpeg(x, quality) - x).abs().mean()
        assert ours > 0.5 / 255 and abs(ours - pil) < 0.1 * pil


@pytest.mark.parametrize("colour", [(0.5, 0.5, 0.5), (0.2, 0.6, 0.9), (1.0, 0.0, 0.3), (0.0, 0.0, 0.0)])
def test_jpeg_round_trips_a_constant_image_nearly_exactly(colour: tuple[float, float, float]) -> None:
    x = torch.tensor(colour).view(1, 3, 1, 1).expand(2, 3, 32, 32).contiguous()
    for quality in JPEG_QUALITY:
        out = jpeg_roundtrip(x, quality)
        assert (out - x).abs().max() <= 2.5 / 255, quality
        assert torch.equal(out, out[:, :, :1, :1].expand_as(out))  # still constant: no blocking
    grey_image = torch.full((1, 1, 16, 16), 0.4)
    assert (jpeg_roundtrip(grey_image, 40) - grey_image).abs().max() <= 1.5 / 255


@pytest.mark.parametrize("mode", sorted(SCIPY_MODES))
def test_filters_and_bilinear_sampling_match_scipy(mode: str) -> None:
    rng = np.random.default_rng(0)
    img = rng.random((9, 11))
    x = torch.from_numpy(img)[None, None]
    for sigma, truncate in [(0.25, 4.0), (0.4, 4.0), (0.96, 3.0), (6.4, 3.0)]:
        ref = ndi.gaussian_filter(img, sigma, mode=SCIPY_MODES[mode], truncate=truncate)
        np.testing.assert_allclose(gaussian_blur(x, sigma, mode, truncate)[0, 0].numpy(), ref, atol=1e-12)
    kernel = disk_kernel(*DEFOCUS[3])
    ref = ndi.correlate(img, kernel.numpy(), mode=SCIPY_MODES[mode])
    np.testing.assert_allclose(filter2d(x, kernel, mode)[0, 0].numpy(), ref, atol=1e-12)
    rows, cols = rng.uniform(-12, 20, (9, 11)), rng.uniform(-12, 22, (9, 11))
    ref = ndi.map_coordinates(img, [rows, cols], order=1, mode=SCIPY_MODES[mode])
    got = sample_bilinear(x, torch.from_numpy(rows)[None], torch.from_numpy(cols)[None], mode)
    np.testing.assert_allclose(got[0, 0].numpy(), ref, atol=1e-12)


def test_defocus_kernel_is_opencvs_float32_antialiased_disk() -> None:
    for radius, alias_blur in DEFOCUS:
        k = disk_kernel(radius, alias_blur)
        assert k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1
        assert 0 < k.sum().item() - 1 < 1e-7 and torch.equal(k, k.T) and torch.equal(k, k.flip(0, 1))
        assert torch.equal(k, k.float().double())  # float32 values, as cv2.GaussianBlur leaves them
    # Radius 0.3 covers only the centre pixel: the kernel is OpenCV's 3-tap Gaussian (float32), squared in float32.
    w = math.exp(-1 / (2 * 0.4 ** 2))
    g = (torch.tensor([w, 1.0, w], dtype=torch.float64) / (1 + 2 * w)).float()
    assert torch.equal(disk_kernel(0.3, 0.4), (g[:, None] * g[None, :]).double())


def test_affine_warp_sends_the_jittered_control_points_back_to_the_originals() -> None:
    jitter = torch.tensor([[[1.5, -2.0], [0.3, 2.2], [-2.5, 0.7]]], dtype=torch.float64)
    rows, cols = affine_source_coords(jitter, 32, 32)
    # The source map is affine: read it off three grid points, then apply it to the jittered points.
    origin = torch.tensor([cols[0, 0, 0], rows[0, 0, 0]])
    ex = torch.tensor([cols[0, 0, 1], rows[0, 0, 1]]) - origin
    ey = torch.tensor([cols[0, 1, 0], rows[0, 1, 0]]) - origin
    control = torch.tensor([[26.0, 26.0], [26.0, 6.0], [6.0, 6.0]], dtype=torch.float64)  # (x, y) for 32x32
    for point, moved in zip(control, control + jitter[0]):
        assert torch.allclose(origin + moved[0] * ex + moved[1] * ey, point, atol=1e-9)


def test_affine_and_displacement_steps_match_scipy_given_the_same_draws() -> None:
    x = smooth_images(2, 3, 32, seed=14).double()
    alpha, sigma, jitter = (f * 32 for f in ELASTIC[3])
    warped = random_affine(x, jitter, gen(3))
    offsets = torch.rand((2, 3, 2), generator=gen(3), dtype=torch.float64).mul_(2 * jitter).add_(-jitter)
    rows, cols = affine_source_coords(offsets, 32, 32)
    moved = random_displacement(x, alpha, sigma, gen(4))
    fields = torch.rand((2, 2, 32, 32), generator=gen(4), dtype=torch.float64).mul_(2).add_(-1).numpy()
    grid_r, grid_c = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    for n in range(2):
        dx = ndi.gaussian_filter(fields[n, 0], sigma, mode="reflect", truncate=3) * alpha
        dy = ndi.gaussian_filter(fields[n, 1], sigma, mode="reflect", truncate=3) * alpha
        for c in range(3):
            img = x[n, c].numpy()
            ref = ndi.map_coordinates(img, [rows[n].numpy(), cols[n].numpy()], order=1, mode="mirror")
            np.testing.assert_allclose(warped[n, c].numpy(), ref, atol=1e-12)
            ref = ndi.map_coordinates(img, [grid_r + dy, grid_c + dx], order=1, mode="reflect")
            np.testing.assert_allclose(moved[n, c].numpy(), ref, atol=1e-12)


def _imagemagick_motion_blur(img: np.ndarray, radius: float, sigma: float, angle: float) -> np.ndarray:
    """MotionBlurImage as ImageMagick 6 writes it: one-sided ray, edge virtual pixels."""
    weights = motion_kernel(radius, sigma)
    width = len(weights)
    px, py = width * math.sin(math.radians(angle)), width * math.cos(math.radians(angle))
    offsets = [(math.ceil(i * py / math.hypot(px, py) - 0.5), math.ceil(i * px / math.hypot(px, py) - 0.5))
               for i in range(width)]
    h, w = img.shape
    out = np.zeros_like(img)
    for y in range(h):
        for x in range(w):
            out[y, x] = sum(k * img[min(max(y + oy, 0), h - 1), min(max(x + ox, 0), w - 1)]
                            for k, (ox, oy) in zip(weights, offsets))
    return out


def test_motion_blur_matches_a_direct_imagemagick_loop() -> None:
    rng = np.random.default_rng(1)
    img = rng.random((7, 9))
    angles = [-135.0, -60.0, -45.0, 0.0, 17.0, 44.9]
    x = torch.from_numpy(np.stack([img] * len(angles)))[:, None]
    got = motion_blur(x, 3, 1.5, torch.tensor(angles, dtype=torch.float64))
    assert len(motion_kernel(6, 1)) == 13 and abs(sum(motion_kernel(6, 1)) - 1) < 1e-12
    for i, angle in enumerate(angles):
        np.testing.assert_allclose(got[i, 0].numpy(), _imagemagick_motion_blur(img, 3, 1.5, angle), atol=1e-12)


def _shuffle_loop(shifts: torch.Tensor, n: int, height: int, width: int, views: bool) -> list[int]:
    """The original's loop on an ``[H, W, 3]`` array of pixel ids: with ``views`` its line as written
    (numpy views on the right: the neighbour is copied), without them a true swap."""
    img = np.stack([np.arange(height * width).reshape(height, width)] * 3, axis=-1)
    for it in range(shifts.shape[0]):
        step = 0
        for h in range(height - 1, 1, -1):
            for w in range(width - 1, 1, -1):
                dx, dy = int(shifts[it, step, 0, n]), int(shifts[it, step, 1, n])
                if views:
                    img[h, w], img[h + dy, w + dx] = img[h + dy, w + dx], img[h, w]
                else:
                    img[h, w], img[h + dy, w + dx] = img[h + dy, w + dx].copy(), img[h, w].copy()
                step += 1
    assert (img == img[..., :1]).all()
    return img[..., 0].flatten().tolist()


def test_glass_blur_shuffles_replay_the_original_loop_with_and_without_numpy_views() -> None:
    height, width, count = 8, 9, 3
    shifts = torch.randint(-1, 1, (2, len(swap_positions(height, width, 1)), 2, count), generator=gen(2))
    copied = copy_sources(shifts, height, width, 1)
    swapped = swap_sources(shifts, height, width, 1)
    for n in range(count):
        assert copied[n].tolist() == _shuffle_loop(shifts, n, height, width, views=True)
        assert swapped[n].tolist() == _shuffle_loop(shifts, n, height, width, views=False)
        # The copy keeps every pixel within one step up/left per pass; the swaps carry pixels far.
        sources = copied[n]
        moved = torch.arange(height * width) - sources
        assert set(moved.tolist()) <= {0, 1, width, width + 1, 2, width + 2, 2 * width, 2 * width + 1, 2 * width + 2}
        assert len(set(swapped[n].tolist())) == height * width  # a permutation
        assert len(set(sources.tolist())) < height * width      # values duplicated, others lost


def test_plasma_fractal_is_the_original_diamond_square_given_the_same_draws() -> None:
    mapsize, decay = 16, 2.5
    got = plasma_fractal(1, mapsize, decay, gen(5), torch.zeros(1, dtype=torch.float64))[0].numpy()
    draws = gen(5)
    arr = np.zeros((mapsize, mapsize))
    step, wibble = mapsize, 100.0

    def wibbled_mean(a: np.ndarray) -> np.ndarray:
        u = torch.rand((1, *a.shape), generator=draws, dtype=torch.float64).mul_(2 * wibble).add_(-wibble)
        return a / 4 + wibble * u[0].numpy()

    while step >= 2:  # the original's fillsquares / filldiamonds, written out
        half = step // 2
        corners = arr[0::step, 0::step]
        acc = corners + np.roll(corners, -1, axis=0)
        acc = acc + np.roll(acc, -1, axis=1)
        arr[half::step, half::step] = wibbled_mean(acc)
        dr, ul = arr[half::step, half::step], arr[0::step, 0::step]
        arr[0::step, half::step] = wibbled_mean(dr + np.roll(dr, 1, axis=0) + ul + np.roll(ul, -1, axis=1))
        arr[half::step, 0::step] = wibbled_mean(dr + np.roll(dr, 1, axis=1) + ul + np.roll(ul, -1, axis=0))
        step //= 2
        wibble /= decay
    arr -= arr.min()
    np.testing.assert_allclose(got, arr / arr.max(), atol=1e-12)


def test_fog_adds_the_fractal_and_rescales_by_the_image_maximum() -> None:
    x = smooth_images(3, 3, 32, seed=15).double()
    strength, decay = FOG[2]
    fractal = plasma_fractal(3, 32, decay, gen(6), x)[:, None]
    peak = x.amax(dim=(1, 2, 3), keepdim=True)
    expected = ((x + strength * fractal) * peak / (peak + strength)).clamp(0, 1)
    assert torch.allclose(corrupt("fog", x, 3, gen(6)), expected, atol=1e-12)


def test_brightness_equals_an_hsv_round_trip() -> None:
    x = smooth_images(1, 3, 8, seed=16).double()
    x[0, :, 0, 0] = 0.0  # a black pixel turns grey
    for severity, shift in enumerate(BRIGHTNESS, start=1):
        got = corrupt("brightness", x, severity, gen())
        for i in range(8):
            for j in range(8):
                h, s, v = colorsys.rgb_to_hsv(*x[0, :, i, j].tolist())
                expected = colorsys.hsv_to_rgb(h, s, min(v + shift, 1.0))
                assert np.allclose(got[0, :, i, j].numpy(), expected, atol=1e-12)


def test_contrast_pulls_each_channel_towards_its_mean() -> None:
    x = smooth_images(2, 3, 16, seed=17).double()
    means = x.mean(dim=(2, 3), keepdim=True)
    for severity, factor in enumerate(CONTRAST, start=1):
        assert torch.allclose(corrupt("contrast", x, severity, gen()), (x - means) * factor + means, atol=1e-12)


def test_noise_statistics_follow_the_constants() -> None:
    x = torch.full((4, 3, 32, 32), 0.5, dtype=torch.float64)
    for severity in (1, 5):
        noisy = corrupt("gaussian_noise", x, severity, gen(severity)) - 0.5
        assert abs(noisy.std().item() - GAUSSIAN_SIGMA[severity - 1]) < 0.05 * GAUSSIAN_SIGMA[severity - 1]
        shot = corrupt("shot_noise", x, severity, gen(severity))
        photons = SHOT_PHOTONS[severity - 1]
        assert torch.allclose(shot * photons, (shot * photons).round(), atol=1e-9)  # photon counts / photons
        assert abs(shot.mean().item() - 0.5) < 0.01 and abs(shot.var().item() - 0.5 / photons) < 0.1 * 0.5 / photons
        impulse = corrupt("impulse_noise", x, severity, gen(severity))
        flipped = impulse != 0.5
        assert abs(flipped.double().mean().item() - IMPULSE_AMOUNT[severity - 1]) < 0.25 * IMPULSE_AMOUNT[severity - 1]
        assert set(impulse[flipped].unique().tolist()) == {0.0, 1.0}


def test_snow_adds_a_layer_symmetric_under_a_half_turn() -> None:
    x = torch.full((3, 3, 32, 32), 0.1)
    keep = SNOW[3][6]
    whitened = keep * 0.1 + (1 - keep) * max(0.1, 0.1 * 1.5 + 0.5)
    added = corrupt("snow", x, 4, gen(8)) - whitened
    assert added.min() >= -1e-6 and added.max() > 0.1  # snow only brightens, and visibly
    assert torch.allclose(added, added.flip(-2, -1), atol=1e-6)
    assert torch.allclose(grey(torch.ones(1, 3, 2, 2)), torch.ones(1, 1, 2, 2))


def test_frost_texture_matches_the_photo_statistics_it_replaces() -> None:
    texture = frost_texture(200, 3, 32, 32, gen(9), torch.zeros(1))
    profile_mean = torch.tensor(PROFILE_MEAN).mean(0)
    assert torch.allclose(texture.mean(dim=(0, 2, 3)), profile_mean, atol=0.03)
    per_image_std = texture.std(dim=(2, 3)).mean()
    assert 0.05 < per_image_std < 0.12
    step = (texture[:, :, 1:] - texture[:, :, :-1]).pow(2).mean(dim=(2, 3)).sqrt().mean()
    assert 0.9 < step / per_image_std < 1.3  # fine-grained like the photo crops, not smooth
    black = torch.zeros(2, 3, 32, 32)
    out = corrupt("frost", black, 5, gen(9))
    assert out.max() <= 0.45 + 1e-6 and out.mean() > 0.2  # only the 0.45-weighted frost remains
