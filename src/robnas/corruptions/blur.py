"""Blur corruptions: defocus (disk kernel), glass (local pixel shuffling), motion and zoom.

Constants are those of CIFAR-10-C (``make_cifar_c.py`` in hendrycks/robustness); each function
follows the original's arithmetic with the library it called reimplemented in torch:

* ``defocus_blur``: OpenCV's ``filter2D`` with the original's anti-aliased disk (an ideal disk
  blurred by a 3x3 OpenCV Gaussian, both in float32 as OpenCV computes them), border
  ``BORDER_REFLECT_101``. The kernel's float32 round-off decides where values that are exactly on
  a level truncate; with it, ``quantize=True`` equals OpenCV 5.0's output on a test batch.
* ``glass_blur``: skimage Gaussian, truncation to 8 bits, the original's pixel shuffle, then the
  Gaussian again. The Gaussians repeat scipy's float64 operations in scipy's order
  (``filters.gaussian_blur_scipy_order``), so the 8-bit truncations fall as in the original even
  for values exactly on a level (a flat white region comes out at 254, not 255, with sigma 0.4).
  The shuffle visits each pixel from the bottom-right to the top-left and pairs it with a random
  up/left neighbour (``randint(-1, 1)`` draws -1 or 0). Its line
  ``x[h, w], x[h', w'] = x[h', w'], x[h, w]`` is meant as a swap, but on the ``[32, 32, 3]``
  array both right-hand sides are numpy *views* of ``x`` (numpy issue #14428): the first
  assignment overwrites ``x[h, w]`` with the neighbour, and the second writes that same value
  back into the neighbour. So the published CIFAR-10-C glass blur *copies* the neighbour into
  each pixel, and since every neighbour is visited later, each pass is one gather from the
  pass's input (``shuffle="copy"``, the default). ``shuffle="swap"`` is the true swap the line
  was meant to be (what the same line does on a 2-D greyscale array, whose elements are copied
  scalars): the swaps chain, carry pixels far towards the top-left and change images by up to
  255 grey levels (on average 7-13) from the published data; it is replayed in the original
  order on a permutation shared by the batch, the Python loop running over the pixel positions.
* ``motion_blur``: ImageMagick's ``MotionBlurImage`` (see ``motion.py``) at a uniform random
  angle in [-45, 45) degrees per image. The original's result is 8-bit, rounded by ImageMagick;
  robnas returns the unrounded blur unless ``corrupt(..., quantize=True)``.
* ``zoom_blur``: the mean of the image and its centre zooms (scipy's order-1 ``zoom`` on a
  centre crop, see ``resample.py``) at the original's factors, applied as one sparse matrix;
  ``quantize=True`` repeats the original's float32 sum instead (:func:`zoom_blur_float32`).

Departure: images of any size are handled by using their own height and width where the
original hard-codes 32.
"""

from __future__ import annotations

import functools
import math

import torch

from robnas.corruptions.filters import correlate2d, filter2d, gaussian_blur_scipy_order
from robnas.corruptions.levels import eight_bit, truncate_exactly, truncate_to_levels
from robnas.corruptions.motion import motion_blur as motion_blur_rays
from robnas.corruptions.motion import motion_blur_8bit
from robnas.corruptions.registry import register_corruption
from robnas.corruptions.resample import clipped_zoom_matrix
from robnas.corruptions.sampling import uniform
from robnas.errors import InvalidValueError

DEFOCUS = ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1))          # disk radius, alias blur
GLASS = ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2))   # sigma, max shift, iterations
GLASS_SHUFFLES = ("copy", "swap")  # as published (numpy views), the true swap
MOTION = ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5))                           # radius, sigma


def _numpy_arange(start: float, stop: float, step: float) -> tuple[float, ...]:
    """``numpy.arange(start, stop, step)`` value for value.

    Its length rule makes ``arange(1, 1.06, 0.01)`` end at 1.06, and it steps by
    ``(start + step) - start`` (0.010000000000000009), which decides scipy's rounded zoom sizes
    at exact halves (e.g. 30 * 1.15).
    """
    count = math.ceil((stop - start) / step)
    delta = (start + step) - start
    return tuple(start + i * delta for i in range(count))


ZOOM = tuple(_numpy_arange(1, stop, 0.01) for stop in (1.06, 1.11, 1.16, 1.21, 1.26))


def _gaussian_3tap(sigma: float) -> torch.Tensor:
    """OpenCV's ``getGaussianKernel(3, sigma)`` for a float32 image: float64 weights, normalised, stored as float32."""
    weights = [math.exp(-(t * t) / (2 * sigma * sigma)) for t in (-1, 0, 1)]
    total = sum(weights)
    return torch.tensor([w / total for w in weights], dtype=torch.float64).to(torch.float32)


def _correlate_3tap(x: torch.Tensor, g: torch.Tensor, dim: int) -> torch.Tensor:
    """One pass of OpenCV's float32 separable filter: ``g0 x[i-1] + g1 x[i] + g2 x[i+1]``, summed left to right."""
    padded = torch.nn.functional.pad(x, (1, 1) if dim == -1 else (0, 0, 1, 1))  # zeros: the disk is far from the border
    size = x.shape[dim]
    taps = [padded.narrow(dim, k, size) for k in range(3)]
    return taps[0] * g[0] + taps[1] * g[1] + taps[2] * g[2]


def disk_kernel(radius: float, alias_blur: float) -> torch.Tensor:
    """The original's defocus kernel as OpenCV computes it in float32, cropped to its non-zero support.

    A float32 disk normalised by its sum, then ``cv2.GaussianBlur(ksize=3)``: a row and a column
    pass in float32. The float32 round-off is kept (returned as float64): the kernel sums to
    1 + 1e-9..5e-8, which decides how values that are exactly on a level in exact arithmetic
    truncate (a flat region stays on its level; at severity 4 the 3x3 Gaussian leaks only 4e-6).
    """
    half = 8 if radius <= 8 else math.ceil(radius)
    taps = torch.arange(-half, half + 1, dtype=torch.float64)
    disk = ((taps[:, None] ** 2 + taps[None, :] ** 2) <= radius ** 2).to(torch.float32)
    disk = disk / disk.sum()
    g = _gaussian_3tap(alias_blur)
    kernel = _correlate_3tap(_correlate_3tap(disk, g, -1), g, -2).to(torch.float64)
    support = int((kernel.abs().sum(0) > 0).nonzero().max()) - half
    return kernel[half - support:half + support + 1, half - support:half + support + 1]


@register_corruption("defocus_blur")
def defocus_blur(x: torch.Tensor, severity: int, gen: torch.Generator,  # noqa: ARG001
                 *, quantize: bool = False) -> torch.Tensor:
    """``quantize``: filtered in float64 from the 8-bit image, as the original's float64 ``filter2D``,
    then truncated (values just below a level, e.g. 4e-6 below at severity 4, must not be snapped up)."""
    radius, alias_blur = DEFOCUS[severity - 1]
    kernel = disk_kernel(radius, alias_blur).to(device=x.device)
    if quantize:
        return truncate_to_levels(correlate2d(eight_bit(x) / 255.0, kernel, "reflect101").clamp(0.0, 1.0)).to(x.dtype)
    return filter2d(x, kernel, "reflect101")


def swap_positions(height: int, width: int, max_shift: int) -> list[int]:
    """Flat positions the original's swap loop visits, in its order (bottom-right to top-left)."""
    return [row * width + col for row in range(height - max_shift, max_shift, -1)
            for col in range(width - max_shift, max_shift, -1)]


def _partners(shifts: torch.Tensor, height: int, width: int, max_shift: int) -> tuple[list[int], torch.Tensor]:
    """The visited positions and, per pass, step and image, the flat position of the drawn neighbour."""
    visits = swap_positions(height, width, max_shift)
    here = torch.tensor(visits, dtype=torch.long, device=shifts.device)[None, :, None]  # [1, steps, 1]
    return visits, here + shifts[:, :, 1] * width + shifts[:, :, 0]  # [iterations, steps, N]


def copy_sources(shifts: torch.Tensor, height: int, width: int, max_shift: int) -> torch.Tensor:
    """The published shuffle (each pixel takes its neighbour's value); per image, the source of every pixel.

    ``shifts`` as in :func:`swap_sources`. Neighbours are up/left (offsets -1 or 0), so each is
    visited *after* the pixel that copies it: within a pass every pixel reads the pass's input,
    and a pass is one gather. Result: ``[N, H * W]`` int64.
    """
    if bool((shifts > 0).any()):
        raise ValueError("copy_sources needs non-positive offsets (the original's randint(-1, 1))")
    visits, partners = _partners(shifts, height, width, max_shift)
    position = torch.tensor(visits, dtype=torch.long, device=shifts.device)
    source = torch.arange(height * width, device=shifts.device)[None, :].repeat(shifts.shape[-1], 1)
    for per_iteration in partners:  # [steps, N]
        moved = source.clone()
        moved[:, position] = source.gather(1, per_iteration.T)
        source = moved
    return source


def swap_sources(shifts: torch.Tensor, height: int, width: int, max_shift: int) -> torch.Tensor:
    """Replay the swap chain the original meant; returns, per image, the source position of every pixel.

    ``shifts`` is ``[iterations, steps, 2, N]``: (dx, dy) of each swap in ``-max_shift..max_shift-1``,
    one step per position of :func:`swap_positions`. Result: ``[N, H * W]`` int64.
    """
    count = shifts.shape[-1]
    visits, partners = _partners(shifts, height, width, max_shift)
    # Position-major layout: the values at one position for all images are one contiguous row.
    source = torch.arange(height * width, device=shifts.device)[:, None].repeat(1, count)
    for per_iteration in partners:
        for position, partner in zip(visits, per_iteration):
            there = partner[None]  # [1, N]
            mine = source[position].clone()
            source[position] = source.gather(0, there)[0]
            source.scatter_(0, there, mine[None])
    return source.T


@register_corruption("glass_blur")
def glass_blur(x: torch.Tensor, severity: int, gen: torch.Generator, *, shuffle: str = "copy",
               quantize: bool = False) -> torch.Tensor:
    """``shuffle="copy"``: CIFAR-10-C as published; ``"swap"``: the true swap (see the module docstring).

    ``quantize``: the final ``np.uint8`` truncation of the float64 result, without tolerance (the
    Gaussians repeat scipy's float64 operations, so its round-off is the original's).
    """
    if shuffle not in GLASS_SHUFFLES:
        raise InvalidValueError(f"glass_blur shuffle must be one of {', '.join(GLASS_SHUFFLES)}, got {shuffle!r}")
    sigma, max_shift, iterations = GLASS[severity - 1]
    batch, channels, height, width = x.shape
    image = eight_bit(x) / 255.0 if quantize else x  # quantize: the uint8 image's float64 levels, as numpy's
    levels = torch.floor(gaussian_blur_scipy_order(image, sigma) * 255.0)  # np.uint8(gaussian(x) * 255), float64
    steps = len(swap_positions(height, width, max_shift))
    draws = uniform((iterations, steps, 2, batch), gen, x)
    shifts = (draws * (2 * max_shift)).floor().long() - max_shift  # randint(-max_shift, max_shift)
    sources = copy_sources if shuffle == "copy" else swap_sources
    source = sources(shifts, height, width, max_shift)
    flat = levels.reshape(batch, channels, height * width)
    shuffled = flat.gather(2, source[:, None, :].expand(batch, channels, height * width))
    out = gaussian_blur_scipy_order(shuffled.reshape(batch, channels, height, width) / 255.0, sigma).clamp(0.0, 1.0)
    return (truncate_exactly(out) if quantize else out).to(x.dtype)


@register_corruption("motion_blur")
def motion_blur(x: torch.Tensor, severity: int, gen: torch.Generator, *, quantize: bool = False) -> torch.Tensor:
    """``quantize``: the original's 8-bit Wand round trip (ImageMagick rounds; see ``motion.py``)."""
    radius, sigma = MOTION[severity - 1]
    angle = uniform((x.shape[0],), gen, x, -45.0, 45.0)
    return (motion_blur_8bit if quantize else motion_blur_rays)(x, radius, sigma, angle)


def _kron_entries(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Row indices, column indices and values of the Kronecker product of two sparse-ish matrices."""
    ai, aj = a.nonzero(as_tuple=True)
    bi, bj = b.nonzero(as_tuple=True)
    rows = (ai[:, None] * b.shape[0] + bi[None, :]).flatten()
    cols = (aj[:, None] * b.shape[1] + bj[None, :]).flatten()
    return rows, cols, (a[ai, aj][:, None] * b[bi, bj][None, :]).flatten()


@functools.lru_cache(maxsize=32)
def zoom_blur_operator(height: int, width: int, severity: int, dtype: torch.dtype,
                       device: torch.device) -> torch.Tensor:
    """The whole zoom blur as one sparse ``[H*W, H*W]`` matrix acting on flattened images.

    ``(x + sum_z A_z x B_z^T) / (Z + 1)`` is linear in ``x``; its matrix
    ``(I + sum_z kron(A_z, B_z)) / (Z + 1)`` has only ~10-25 non-zeros per row (each zoom reads
    a 2x2 neighbourhood and the zooms overlap), so one sparse product replaces 2 * Z dense ones.
    """
    factors = ZOOM[severity - 1]
    entries = [_kron_entries(torch.eye(height, dtype=torch.float64), torch.eye(width, dtype=torch.float64))]
    for factor in factors:
        rows = clipped_zoom_matrix(height, factor, torch.float64, torch.device("cpu"))
        cols = clipped_zoom_matrix(width, factor, torch.float64, torch.device("cpu"))
        entries.append(_kron_entries(rows, cols))
    index = torch.stack([torch.cat([e[0] for e in entries]), torch.cat([e[1] for e in entries])])
    values = torch.cat([e[2] for e in entries]) / (len(factors) + 1)
    size = height * width
    operator = torch.sparse_coo_tensor(index, values, (size, size), check_invariants=True).coalesce()
    return operator.to(device=device, dtype=dtype)


@functools.lru_cache(maxsize=16)
def _zoom_matrices(size: int, severity: int, device: torch.device) -> torch.Tensor:
    """``[Z, size, size]`` float64: the clipped zoom of each of the severity's factors along one axis."""
    return torch.stack([clipped_zoom_matrix(size, f, torch.float64, device) for f in ZOOM[severity - 1]])


def zoom_blur_float32(x: torch.Tensor, severity: int) -> torch.Tensor:
    """The original's zoom blur operation for operation: float32 image, each zoom (scipy interpolates in
    float64 and stores float32) added in turn to a float32 sum, ``(x + sum) / (Z + 1)`` in float32, and
    ``np.uint8`` truncation. Values exactly on a level (flat regions; the zooms that keep the size,
    e.g. 1.01 on 32 pixels, are the identity) then truncate as in the original."""
    batch, channels, height, width = x.shape
    image = (eight_bit(x) / 255.0).to(torch.float32)  # (np.array(x) / 255.).astype(np.float32)
    planes = image.to(torch.float64).reshape(batch * channels, height, width)
    rows, cols = _zoom_matrices(height, severity, x.device), _zoom_matrices(width, severity, x.device)
    total = torch.zeros_like(image)
    for row_zoom, col_zoom in zip(rows, cols):
        across = (planes @ col_zoom.T).transpose(0, 1).reshape(height, -1)  # one GEMM per axis, not a batch
        zoomed = (row_zoom @ across).reshape(height, batch * channels, width).transpose(0, 1)
        total += zoomed.reshape(batch, channels, height, width).to(torch.float32)
    return truncate_exactly((image + total) / float(len(rows) + 1)).to(x.dtype)


@register_corruption("zoom_blur")
def zoom_blur(x: torch.Tensor, severity: int, gen: torch.Generator,  # noqa: ARG001
              *, quantize: bool = False) -> torch.Tensor:
    """``quantize``: the original's float32 arithmetic and truncation (:func:`zoom_blur_float32`)."""
    if quantize:
        return zoom_blur_float32(x, severity)
    batch, channels, height, width = x.shape
    operator = zoom_blur_operator(height, width, severity, x.dtype, x.device)
    # Pixel-major layout: torch's sparse @ dense is ~30x slower on a transposed (strided) operand.
    pixels = x.reshape(batch * channels, height * width).T.contiguous()
    return torch.sparse.mm(operator, pixels).T.reshape(batch, channels, height, width)
