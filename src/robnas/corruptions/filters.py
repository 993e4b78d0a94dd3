"""Border handling and linear filters shared by the corruptions, batched over ``[N, C, H, W]``.

The original corruptions call three libraries whose filters differ only in how they extend the
image past its border, and the differences are visible on 32x32 images (a 5x5 kernel touches
the border on a quarter of the pixels). So every filter here names its border mode explicitly:

* ``"replicate"``  -- ``a a | a b c | c c``   (scipy/skimage ``nearest``, ImageMagick edge pixels)
* ``"reflect101"`` -- ``c b | a b c | b a``   (OpenCV's default ``BORDER_REFLECT_101``, torch ``reflect``)
* ``"symmetric"``  -- ``b a | a b c | c b``   (scipy/skimage ``reflect``)

Filters are applied as small per-axis matrices whose rows already contain the folded border
taps, so they work for any kernel width, even one larger than the image (8x8 inputs with a
39-tap kernel), and run as large matrix products (much faster on CPU than single-channel conv2d).
"""

from __future__ import annotations

import math

import torch

BORDER_MODES = ("replicate", "reflect101", "symmetric")


def fold_index(index: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """Map integer positions (any range) onto ``0..size-1`` as the border ``mode`` extends the data."""
    if mode == "replicate" or size == 1:
        return index.clamp(0, size - 1)
    if mode == "reflect101":
        period = 2 * (size - 1)
        folded = index.remainder(period)
        return torch.where(folded >= size, period - folded, folded)
    if mode == "symmetric":
        period = 2 * size
        folded = index.remainder(period)
        return torch.where(folded >= size, period - 1 - folded, folded)
    raise ValueError(f"unknown border mode {mode!r}; use one of {BORDER_MODES}")


def pad(x: torch.Tensor, top: int, bottom: int, left: int, right: int, mode: str) -> torch.Tensor:
    """Extend the last two dimensions of ``x`` by the given widths with border ``mode``."""
    if top == bottom == left == right == 0:
        return x
    height, width = x.shape[-2:]
    rows = fold_index(torch.arange(-top, height + bottom, device=x.device), height, mode)
    cols = fold_index(torch.arange(-left, width + right, device=x.device), width, mode)
    return x.index_select(-2, rows).index_select(-1, cols)


def gaussian_kernel1d(sigma: float, truncate: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """scipy.ndimage's sampled Gaussian: radius ``int(truncate * sigma + 0.5)``, weights summing to 1."""
    radius = int(truncate * sigma + 0.5)
    taps = torch.arange(-radius, radius + 1, device=device, dtype=torch.float64)
    weights = torch.exp(-0.5 * (taps / sigma) ** 2)
    return (weights / weights.sum()).to(dtype)


def axis_filter_matrix(kernel: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """``[size, size]`` (float64): correlation with the odd-length 1-D ``kernel`` along one axis, border included.

    Row ``i`` holds the weights that output sample ``i`` gives to the input samples; taps that
    fall outside the axis are folded back with border ``mode``, so the matrix *is* the filter.
    """
    kernel = kernel.detach().to("cpu", torch.float64)
    radius = kernel.numel() // 2
    outputs = torch.arange(size)[:, None].expand(size, kernel.numel())
    inputs = fold_index(outputs + torch.arange(-radius, radius + 1)[None, :], size, mode)
    matrix = torch.zeros(size, size, dtype=torch.float64)
    matrix.index_put_((outputs, inputs), kernel.expand(size, -1).clone(), accumulate=True)
    return matrix


def apply_separable(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """``rows @ x @ cols^T`` for every channel of every image: ``[N, C, H, W] -> [N, C, H', W']``.

    Both products are arranged as one large GEMM each (a small matrix on the right), which is
    2x faster on CPU than broadcasting a small matrix from the left over the batch.
    """
    rows, cols = rows.to(x), cols.to(x)
    x = x @ cols.transpose(0, 1)
    return (x.transpose(-1, -2) @ rows.transpose(0, 1)).transpose(-1, -2)


def filter2d(x: torch.Tensor, kernel: torch.Tensor, mode: str) -> torch.Tensor:
    """Correlate every channel of ``x`` with the odd-sized 2-D ``kernel`` (border ``mode``).

    The kernel is split by SVD into separable terms (the defocus disks have rank 1 or 2), each
    applied as two matrix products; the border folds per axis, so the split is exact. torch's
    single-channel conv2d is ~5x slower on CPU.
    """
    height, width = x.shape[-2:]
    u, s, vh = torch.linalg.svd(kernel.detach().to("cpu", torch.float64))
    out = torch.zeros_like(x)
    for k in range(len(s)):
        if s[k] <= s[0] * 1e-12:
            break
        rows = axis_filter_matrix(u[:, k] * s[k], height, mode)
        cols = axis_filter_matrix(vh[k], width, mode)
        out += apply_separable(x, rows, cols)
    return out


def correlate2d(x: torch.Tensor, kernel: torch.Tensor, mode: str) -> torch.Tensor:
    """Correlate every channel of ``x`` with a small odd-sized 2-D ``kernel`` (border ``mode``), tap by tap.

    In ``x``'s dtype with no factorisation of the kernel: used in float64, where the sum's
    round-off (~1e-16) stays far below the float32 rounding of the kernels it applies.
    """
    radius_h, radius_w = kernel.shape[0] // 2, kernel.shape[1] // 2
    height, width = x.shape[-2:]
    padded = pad(x, radius_h, radius_h, radius_w, radius_w, mode)
    weights = kernel.to(device=x.device, dtype=x.dtype)
    out = torch.zeros_like(x)
    for a in range(kernel.shape[0]):
        for b in range(kernel.shape[1]):
            if kernel[a, b] != 0:
                out += weights[a, b] * padded[..., a:a + height, b:b + width]
    return out


def separable_filter(x: torch.Tensor, kernel: torch.Tensor, mode: str) -> torch.Tensor:
    """Correlate every channel of ``x`` with the odd-length 1-D ``kernel`` along rows and columns."""
    height, width = x.shape[-2:]
    return apply_separable(x, axis_filter_matrix(kernel, height, mode), axis_filter_matrix(kernel, width, mode))


def gaussian_blur(x: torch.Tensor, sigma: float, mode: str = "replicate", truncate: float = 4.0) -> torch.Tensor:
    """skimage.filters.gaussian on each channel: a separable sampled Gaussian (default border: nearest)."""
    kernel = gaussian_kernel1d(sigma, truncate, x.device, x.dtype)
    if kernel.numel() == 1:  # sigma so small that the kernel is a single tap: the identity
        return x.clone()
    return separable_filter(x, kernel, mode)


def scipy_gaussian_kernel1d(sigma: float, truncate: float = 4.0) -> list[float]:
    """scipy.ndimage's Gaussian weights as scipy computes them: ``exp(-0.5 / sigma^2 * t^2)`` over its sum.

    Python's ``math.exp`` (the C library's, as numpy's exp of 2018) and a left-to-right sum
    reproduce scipy's float64 weights for the small kernels of the corruptions.
    """
    radius = int(truncate * sigma + 0.5)
    factor = -0.5 / (sigma * sigma)
    weights = [math.exp(factor * (t * t)) for t in range(-radius, radius + 1)]
    total = 0.0
    for weight in weights:
        total += weight
    return [weight / total for weight in weights]


def gaussian_blur_scipy_order(x: torch.Tensor, sigma: float, truncate: float = 4.0) -> torch.Tensor:
    """skimage.filters.gaussian (scipy's ``gaussian_filter``, border ``nearest``) operation for operation, float64.

    scipy filters the rows axis, then the columns axis; for a symmetric kernel it starts each
    sum at ``centre * w0`` and adds ``(left_d + right_d) * w_d`` from the outermost pair inwards.
    Repeating that order gives its float64 round-off bit for bit, which decides where a value
    that is exactly on a level (a flat region) falls when it is truncated to 8 bits: with
    sigma 0.4, 56 of the 256 flat grey levels (255 among them) come out one level lower.
    """
    weights = scipy_gaussian_kernel1d(sigma, truncate)
    radius = len(weights) // 2
    out = x.to(torch.float64)
    for dim in (-2, -1):
        size = out.shape[dim]
        positions = torch.arange(size, device=out.device)

        def neighbour(offset: int, image: torch.Tensor = out, dim: int = dim) -> torch.Tensor:
            return image.index_select(dim, (positions + offset).clamp(0, size - 1))

        total = out * weights[radius]
        for offset in range(radius, 0, -1):
            total = total + (neighbour(-offset) + neighbour(offset)) * weights[radius - offset]
        out = total
    return out


def next_power_of_two(n: int) -> int:
    return 1 << max(0, math.ceil(math.log2(max(n, 1))))
