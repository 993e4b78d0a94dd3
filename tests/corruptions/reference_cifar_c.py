"""A numpy transcription of the CIFAR-10-C corruptions as ``make_cifar_c.py`` computes them, for the tests.

Hendrycks & Dietterich's script (hendrycks/robustness, ``ImageNet-C/create_c/make_cifar_c.py``)
corrupts one 32x32 RGB PIL image at a time with numpy, scikit-image, scipy, OpenCV, PIL and
ImageMagick (Wand), and its driver stores ``np.uint8(result)``. Each function below takes the
uint8 image ``[H, W, 3]`` and the random draws the original takes from numpy's global RNG
(passed in explicitly, already in the original's units) and returns that stored uint8 image.

Written for robnas from the original's arithmetic, independently of robnas's torch code:
scipy.ndimage stands in for what scikit-image's ``gaussian`` calls (``gaussian_filter``, border
``nearest``) and for the original's own scipy calls; PIL is the library the original calls for
pixelate and JPEG; OpenCV's ``filter2D``/``GaussianBlur``/``cvtColor``, scikit-image's HSV
conversions and ImageMagick's ``MotionBlurImage`` (Q16, with its 16-bit and PNG 8-bit rounding)
are re-derived here in numpy from their documented arithmetic.

Two inputs cannot be the original's: ``frost`` takes the frost layer as an argument (the
original crops one of five photographs robnas does not ship) and ``elastic_transform`` warps at
exact coordinates (OpenCV's ``warpAffine`` quantises them to 1/32 pixel); both are documented
departures of robnas, and the tests pin everything else.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
import scipy.ndimage as ndi
from PIL import Image


def stored(value_255: np.ndarray) -> np.ndarray:
    """The driver's ``np.uint8(...)``: truncation of the (already clipped) 0..255 value."""
    return np.asarray(value_255).astype(np.uint8)


def skimage_gaussian(image: np.ndarray, sigma: float, mode: str = "nearest", truncate: float = 4.0) -> np.ndarray:
    """``skimage.filters.gaussian(image, sigma, multichannel=True)`` on ``[H, W, C]`` (no blur across channels)."""
    sigmas = (sigma, sigma, 0) if image.ndim == 3 else (sigma, sigma)
    return ndi.gaussian_filter(image, sigmas, mode=mode, truncate=truncate)


def clipped_zoom(image: np.ndarray, factor: float) -> np.ndarray:
    """Zoom the centre ``ceil(h / factor)`` square by ``factor`` (scipy order 1) and keep the centre ``h``."""
    side = image.shape[0]
    crop = int(np.ceil(side / factor))
    top = (side - crop) // 2
    zoomed = ndi.zoom(image[top:top + crop, top:top + crop], (factor, factor, 1), order=1)
    trim = (zoomed.shape[0] - side) // 2
    return zoomed[trim:trim + side, trim:trim + side]


def imagemagick_motion_blur(image: np.ndarray, radius: float, sigma: float, angle: float) -> np.ndarray:
    """ImageMagick 6 (Q16) ``MotionBlurImage`` on an 8-bit ``[H, W, C]`` image, as the PNG it writes back (uint8).

    A one-sided ray of ``2 ceil(radius) + 1`` Gaussian taps ``exp(-i^2 / 2 sigma^2) / (sqrt(2 pi) sigma)``
    (normalised) at offsets ``(ceil(i cos a - 1/2), ceil(i sin a - 1/2))``, edge pixels repeated; the
    8-bit samples are read as ``257 k``, the weighted sum rounded to 16 bits (``ClampToQuantum``:
    ``(Quantum)(v + 0.5)``) and written back to 8 bits with ``ScaleQuantumToChar``, which rounds too.
    """
    width = int(2 * math.ceil(radius) + 1)
    weights = np.array([math.exp(-(i * i) / (2.0 * sigma * sigma)) / (math.sqrt(2 * math.pi) * sigma)
                        for i in range(width)])
    weights /= weights.sum()
    point_x, point_y = width * math.sin(math.radians(angle)), width * math.cos(math.radians(angle))
    norm = math.hypot(point_x, point_y)
    height, cols = image.shape[:2]
    rows_idx, cols_idx = np.arange(height)[:, None], np.arange(cols)[None, :]
    quantum = image.astype(np.float64) * 257.0
    total = np.zeros_like(quantum)
    for i in range(width):
        dx, dy = math.ceil(i * point_y / norm - 0.5), math.ceil(i * point_x / norm - 0.5)
        total += weights[i] * quantum[np.clip(rows_idx + dy, 0, height - 1), np.clip(cols_idx + dx, 0, cols - 1)]
    q16 = np.where(total <= 0, 0, np.where(total >= 65535, 65535, np.floor(total + 0.5))).astype(np.int64)
    return (((q16 + 128) - ((q16 + 128) >> 8)) >> 8).astype(np.uint8)


def opencv_grey(x: np.ndarray) -> np.ndarray:
    """``cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)`` on float32 RGB: ``0.299 R + 0.587 G + 0.114 B`` in float32."""
    r, g, b = (x[..., i] for i in range(3))
    return np.float32(0.299) * r + np.float32(0.587) * g + np.float32(0.114) * b


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    """Hexcone HSV (scikit-image's convention: hue in [0, 1), grey pixels get hue and saturation 0)."""
    value = rgb.max(-1)
    spread = value - rgb.min(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        saturation = np.where(spread == 0, 0.0, spread / value)
        r, g, b = (rgb[..., i] for i in range(3))
        # Sector by the largest channel; later channels win ties, as in scikit-image.
        hue = np.where(r == value, (g - b) / spread, 0.0)
        hue = np.where(g == value, 2.0 + (b - r) / spread, hue)
        hue = np.where(b == value, 4.0 + (r - g) / spread, hue)
    hue = np.where(spread == 0, 0.0, (hue / 6.0) % 1.0)
    return np.stack([hue, saturation, value], axis=-1)


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    hue, saturation, value = (hsv[..., i] for i in range(3))
    sector = np.floor(hue * 6)
    frac = hue * 6 - sector
    low = value * (1 - saturation)
    falling = value * (1 - frac * saturation)
    rising = value * (1 - (1 - frac) * saturation)
    # (R, G, B) per sector 0..5 of the hexcone.
    table = [(value, rising, low), (falling, value, low), (low, value, rising),
             (low, falling, value), (rising, low, value), (value, low, falling)]
    sector = sector.astype(np.int64) % 6
    out = np.zeros(hsv.shape)
    for k, channels in enumerate(table):
        for c in range(3):
            out[..., c] = np.where(sector == k, channels[c], out[..., c])
    return out


# /////// the 15 corruptions (constants as in the original) ///////

def gaussian_noise(img: np.ndarray, severity: int, z: np.ndarray) -> np.ndarray:
    """``z``: standard normal draws ``[H, W, 3]``."""
    c = (0.04, 0.06, 0.08, 0.09, 0.10)[severity - 1]
    x = img / 255.0
    return stored(np.clip(x + z * c, 0, 1) * 255)


def shot_noise(img: np.ndarray, severity: int, counts: np.ndarray) -> np.ndarray:
    """``counts``: the Poisson draws ``poisson(x * c)``."""
    c = (500, 250, 100, 75, 50)[severity - 1]
    return stored(np.clip(counts / c, 0, 1) * 255)


def impulse_noise(img: np.ndarray, severity: int, u_flip: np.ndarray, u_salt: np.ndarray) -> np.ndarray:
    """scikit-image >= 0.13 ``random_noise(mode="s&p")``: ``choice([True, False], p=[a, 1 - a])`` is ``u < a``."""
    amount = (0.01, 0.02, 0.03, 0.05, 0.07)[severity - 1]
    x = img / 255.0
    flipped = u_flip < amount
    salted = u_salt < 0.5
    x[flipped & salted] = 1.0
    x[flipped & ~salted] = 0.0
    return stored(np.clip(x, 0, 1) * 255)


def disk(radius: float, alias_blur: float) -> np.ndarray:
    """The original's 17x17 defocus kernel: a float32 disk, normalised, through ``cv2.GaussianBlur(ksize=3)``.

    OpenCV blurs a float32 image with float32 taps (``getGaussianKernel``: float64 weights,
    normalised, stored as float32) in a row pass and a column pass, each summed left to right
    in float32 (BORDER_REFLECT_101; the disk is far from the border).
    """
    taps = np.arange(-8, 9)
    xs, ys = np.meshgrid(taps, taps)
    aliased = ((xs ** 2 + ys ** 2) <= radius ** 2).astype(np.float32)
    aliased /= np.sum(aliased)
    g = np.exp(-np.arange(-1, 2) ** 2 / (2 * alias_blur ** 2))
    g = (g / g.sum()).astype(np.float32)

    def one_pass(a: np.ndarray, axis: int) -> np.ndarray:
        p = np.pad(a, [(1, 1) if ax == axis else (0, 0) for ax in range(2)], mode="reflect")
        left, mid, right = (np.take(p, np.arange(k, k + a.shape[axis]), axis=axis) for k in range(3))
        return (left * g[0] + mid * g[1]) + right * g[2]  # float32 throughout

    return one_pass(one_pass(aliased, 1), 0).astype(np.float64)


def defocus_blur(img: np.ndarray, severity: int) -> np.ndarray:
    radius, alias_blur = ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1))[severity - 1]
    x = img / 255.0
    kernel = disk(radius, alias_blur)
    # cv2.filter2D correlates with border BORDER_REFLECT_101 (scipy's "mirror"); for a float64
    # image it takes the float32 kernel as float64 (and, for 17x17, goes through a DFT, whose
    # round-off of ~1e-16 is far below the kernel's float32 rounding that decides the levels).
    out = np.stack([ndi.correlate(x[..., d], kernel, mode="mirror") for d in range(3)], axis=-1)
    return stored(np.clip(out, 0, 1) * 255)


def glass_blur(img: np.ndarray, severity: int, shifts: np.ndarray, numpy_views: bool = True) -> np.ndarray:
    """``shifts``: ``[iterations, steps, 2]`` (dx, dy) draws of ``randint(-1, 1)`` in the loop's order.

    With ``numpy_views`` the original's line ``x[h, w], x[h', w'] = x[h', w'], x[h, w]`` runs as
    written on the ``[H, W, 3]`` array: both right-hand sides are views into ``x``, so the second
    assignment reads the pixel the first has just overwritten and the "swap" copies the neighbour
    into ``x[h, w]``. Without it, the right-hand sides are copied first: a true swap.
    """
    sigma, max_delta, iterations = ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2))[severity - 1]
    x = np.uint8(skimage_gaussian(img / 255.0, sigma) * 255)
    height, width = x.shape[:2]
    for i in range(iterations):
        step = 0
        for h in range(height - max_delta, max_delta, -1):
            for w in range(width - max_delta, max_delta, -1):
                dx, dy = (int(v) for v in shifts[i, step])
                hp, wp = h + dy, w + dx
                if numpy_views:
                    x[h, w], x[hp, wp] = x[hp, wp], x[h, w]
                else:
                    x[h, w], x[hp, wp] = x[hp, wp].copy(), x[h, w].copy()
                step += 1
    return stored(np.clip(skimage_gaussian(x / 255.0, sigma), 0, 1) * 255)


def motion_blur(img: np.ndarray, severity: int, angle: float) -> np.ndarray:
    """``angle``: the draw of ``uniform(-45, 45)``. The PNG/Wand round trip returns uint8 already."""
    radius, sigma = ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5))[severity - 1]
    return stored(np.clip(imagemagick_motion_blur(img, radius, sigma, angle), 0, 255))


ZOOM_FACTORS = tuple(np.arange(1, stop, 0.01) for stop in (1.06, 1.11, 1.16, 1.21, 1.26))


def zoom_blur(img: np.ndarray, severity: int) -> np.ndarray:
    x = (img / 255.0).astype(np.float32)
    out = np.zeros_like(x)
    for factor in ZOOM_FACTORS[severity - 1]:
        out += clipped_zoom(x, factor)
    x = (x + out) / (len(ZOOM_FACTORS[severity - 1]) + 1)
    return stored(np.clip(x, 0, 1) * 255)


def snow(img: np.ndarray, severity: int, layer: np.ndarray, angle: float) -> np.ndarray:
    """``layer``: the ``normal(loc, scale)`` draws ``[H, W]``; ``angle``: the draw of ``uniform(-135, -45)``."""
    loc, scale, zoom, threshold, radius, sigma, keep = (
        (0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9), (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
        (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85), (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8))[severity - 1]
    x = np.array(img, dtype=np.float32) / 255.0
    flakes = clipped_zoom(layer[..., None], zoom)
    flakes[flakes < threshold] = 0
    flakes8 = (np.clip(flakes[..., 0], 0, 1) * 255).astype(np.uint8)  # the PIL "L" image saved as PNG
    flakes = imagemagick_motion_blur(flakes8[..., None], radius, sigma, angle)[..., 0] / 255.0
    flakes = flakes[..., None]
    x = keep * x + (1 - keep) * np.maximum(x, opencv_grey(x)[..., None] * 1.5 + 0.5)
    return stored(np.clip(x + flakes + np.rot90(flakes, k=2), 0, 1) * 255)


def frost(img: np.ndarray, severity: int, layer: np.ndarray) -> np.ndarray:
    """``layer``: the frost image on the 0..255 scale (the original: a crop of a uint8 photograph)."""
    image_weight, frost_weight = ((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45))[severity - 1]
    return stored(np.clip(image_weight * np.array(img) + frost_weight * layer, 0, 255))


def fog(img: np.ndarray, severity: int, fractal: np.ndarray) -> np.ndarray:
    """``fractal``: the diamond-square map in [0, 1] (its draws are checked on their own)."""
    strength, _ = ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75))[severity - 1]
    x = np.array(img) / 255.0
    peak = x.max()
    x += strength * fractal[:x.shape[0], :x.shape[1]][..., None]
    return stored(np.clip(x * peak / (peak + strength), 0, 1) * 255)


def brightness(img: np.ndarray, severity: int) -> np.ndarray:
    c = (0.05, 0.1, 0.15, 0.2, 0.3)[severity - 1]
    hsv = rgb_to_hsv(np.array(img) / 255.0)
    hsv[..., 2] = np.clip(hsv[..., 2] + c, 0, 1)
    return stored(np.clip(hsv_to_rgb(hsv), 0, 1) * 255)


def contrast(img: np.ndarray, severity: int) -> np.ndarray:
    c = (0.75, 0.5, 0.4, 0.3, 0.15)[severity - 1]
    x = np.array(img) / 255.0
    means = np.mean(x, axis=(0, 1), keepdims=True)
    return stored(np.clip((x - means) * c + means, 0, 1) * 255)


def elastic_transform(img: np.ndarray, severity: int, jitter: np.ndarray, fields: np.ndarray | None) -> np.ndarray:
    """``jitter``: the ``uniform(-c, c)`` offsets ``[3, 2]`` of the control points (x, y);
    ``fields``: the two ``uniform(-1, 1)`` draws ``[2, H, W]`` (dx first), or None at severity 1 (unused)."""
    alpha, sigma, _ = ((0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05),
                       (0.1, 0.03, 0.03))[severity - 1]
    size = 32
    alpha, sigma = alpha * size, sigma * size
    image = np.array(img, dtype=np.float32) / 255.0
    height, width = image.shape[:2]
    centre = np.float32([height, width]) // 2
    third = min(height, width) // 3
    source = np.float32([centre + third, [centre[0] + third, centre[1] - third], centre - third])  # (x, y)
    target = source + jitter
    # warpAffine maps every output pixel back through the inverse of the fitted affine map.
    inverse = np.linalg.solve(np.hstack([target, np.ones((3, 1))]).astype(np.float64), source.astype(np.float64))
    ys, xs = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    mapped = np.stack([xs, ys, np.ones_like(xs)], axis=-1).reshape(-1, 3) @ inverse
    src_x, src_y = mapped[:, 0].reshape(height, width), mapped[:, 1].reshape(height, width)
    image = np.stack([ndi.map_coordinates(image[..., c], [src_y, src_x], order=1, mode="mirror")
                      for c in range(3)], axis=-1)
    if fields is not None:
        dx = (skimage_gaussian(fields[0], sigma, mode="reflect", truncate=3) * alpha).astype(np.float32)
        dy = (skimage_gaussian(fields[1], sigma, mode="reflect", truncate=3) * alpha).astype(np.float32)
    else:
        dx = dy = np.zeros((height, width), np.float32)
    image = np.stack([ndi.map_coordinates(image[..., c], [ys + dy, xs + dx], order=1, mode="reflect")
                      for c in range(3)], axis=-1)
    return stored(np.clip(image, 0, 1) * 255)


def pixelate(img: np.ndarray, severity: int) -> np.ndarray:
    c = (0.95, 0.9, 0.85, 0.75, 0.65)[severity - 1]
    height, width = img.shape[:2]
    pil = Image.fromarray(img)
    pil = pil.resize((int(width * c), int(height * c)), Image.BOX).resize((width, height), Image.BOX)
    return stored(np.asarray(pil))


def jpeg_compression(img: np.ndarray, severity: int) -> np.ndarray:
    quality = (80, 65, 58, 50, 40)[severity - 1]
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, "JPEG", quality=quality)
    return stored(np.asarray(Image.open(io.BytesIO(buffer.getvalue()))))


# /////// robnas's random draws, replayed into the transcription ///////

def replay(name: str, images: torch.Tensor, severity: int, seed: int, **options: object) -> torch.Tensor:
    """What the original stores for ``images`` (float ``[N, 3, H, W]`` on the 1/255 grid) given the draws
    robnas's ``corrupt(name, images, severity, make_generator(seed))`` makes: uint8 ``[N, 3, H, W]``.

    The draws are re-made here from a fresh generator in robnas's order and shapes (that order is
    robnas's own; the formula they feed is the original's). ``frost`` and ``fog`` take robnas's
    frost layer and plasma map as their random inputs (the fractal's recursion has its own test).
    """
    from robnas.corruptions.blur import GLASS, swap_positions
    from robnas.corruptions.digital import ELASTIC
    from robnas.corruptions.filters import next_power_of_two
    from robnas.corruptions.frost_texture import frost_texture
    from robnas.corruptions.noise import SHOT_PHOTONS
    from robnas.corruptions.plasma import plasma_fractal
    from robnas.corruptions.weather import FOG, SNOW
    from robnas.rng import make_generator

    x = images  # draws in the images' dtype, as robnas makes them; the formula then runs in numpy
    dt = x.dtype
    batch, channels, height, width = x.shape
    gen = make_generator(seed)
    imgs = [(img.double().permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for img in x]
    draws: list[tuple] = [() for _ in range(batch)]
    fn = globals()[name]
    if name == "gaussian_noise":
        z = torch.randn(x.shape, generator=gen, dtype=dt)
        draws = [(z[n].double().permute(1, 2, 0).numpy(),) for n in range(batch)]
    elif name == "shot_noise":
        counts = torch.poisson(x * SHOT_PHOTONS[severity - 1], generator=gen)
        draws = [(counts[n].double().permute(1, 2, 0).numpy(),) for n in range(batch)]
    elif name == "impulse_noise":
        u_flip = torch.rand(x.shape, generator=gen, dtype=dt)
        u_salt = torch.rand(x.shape, generator=gen, dtype=dt)
        draws = [(u_flip[n].double().permute(1, 2, 0).numpy(), u_salt[n].double().permute(1, 2, 0).numpy())
                 for n in range(batch)]
    elif name == "glass_blur":
        _, max_shift, iterations = GLASS[severity - 1]
        steps = len(swap_positions(height, width, max_shift))
        u = torch.rand((iterations, steps, 2, batch), generator=gen, dtype=dt)
        shifts = ((u * (2 * max_shift)).floor().long() - max_shift).numpy()
        views = options.get("shuffle", "copy") == "copy"
        draws = [(shifts[..., n], views) for n in range(batch)]
    elif name == "motion_blur":
        angles = torch.rand((batch,), generator=gen, dtype=dt).mul_(90.0).add_(-45.0)
        draws = [(float(a),) for a in angles]
    elif name == "snow":
        mean, std = SNOW[severity - 1][:2]
        layers = torch.randn((batch, 1, height, width), generator=gen, dtype=dt).mul_(std).add_(mean)
        angles = torch.rand((batch,), generator=gen, dtype=dt).mul_(90.0).add_(-135.0)
        draws = [(layers[n, 0].double().numpy(), float(angles[n])) for n in range(batch)]
    elif name == "frost":
        layers = frost_texture(batch, channels, height, width, gen, x) * 255.0
        draws = [(layers[n].double().permute(1, 2, 0).numpy(),) for n in range(batch)]
    elif name == "fog":
        mapsize = max(2, next_power_of_two(max(height, width)))
        maps = plasma_fractal(batch, mapsize, FOG[severity - 1][1], gen, x)
        draws = [(maps[n].double().numpy(),) for n in range(batch)]
    elif name == "elastic_transform":
        alpha, _, jitter = (f * min(height, width) for f in ELASTIC[severity - 1])
        offsets = torch.rand((batch, 3, 2), generator=gen, dtype=dt).mul_(2 * jitter).add_(-jitter)
        fields = None
        if alpha != 0:
            fields = torch.rand((batch, 2, height, width), generator=gen, dtype=dt).mul_(2.0).add_(-1.0)
        draws = [(offsets[n].double().numpy(), None if fields is None else fields[n].double().numpy())
                 for n in range(batch)]
    out = [fn(imgs[n], severity, *draws[n]) for n in range(batch)]
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()


# (corruption, severity, seed, white patch in the image, robnas options): the cases of test_cifar10c_reference.
PINNED_CASES = (
    ("gaussian_noise", 2, 11, False, {}),
    ("shot_noise", 5, 12, False, {}),
    ("impulse_noise", 4, 13, False, {}),
    ("defocus_blur", 3, 14, False, {}),
    ("glass_blur", 5, 15, True, {}),
    ("glass_blur", 5, 15, True, {"shuffle": "swap"}),
    ("motion_blur", 4, 16, False, {}),
    ("zoom_blur", 1, 17, True, {}),
    ("snow", 2, 18, True, {}),
    ("frost", 5, 19, False, {}),
    ("fog", 3, 20, True, {}),
    ("brightness", 4, 21, True, {}),
    ("contrast", 2, 22, False, {}),
    ("elastic_transform", 5, 23, False, {}),
    ("pixelate", 5, 24, False, {}),
    ("jpeg_compression", 4, 25, False, {}),
)


if __name__ == "__main__":  # print the expected values pinned in test_cifar10c_reference.py
    import pprint
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from corruptions.helpers import level_summary, pinned_image

    for name, severity, seed, patch, options in PINNED_CASES:
        stored_levels = replay(name, pinned_image(patch), severity, seed, **options)[0]
        print(f"# {name} {options or ''}")
        pprint.pprint(level_summary(stored_levels), width=120, compact=True)
