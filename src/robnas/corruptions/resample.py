"""Resampling as matrices and gathers: the scipy/PIL resizes of the original corruptions, batched.

A separable resize of an ``[N, C, H, W]`` batch is ``R @ x @ S^T`` with small ``[H_out, H]`` and
``[W_out, W]`` matrices, built once per call from the same coordinate rules as the library the
original script used, so a whole batch is two matrix products:

* :func:`linear_zoom_matrix` -- ``scipy.ndimage.zoom(order=1)`` (corner-aligned linear interpolation,
  output size ``round(n * factor)``);
* :func:`clipped_zoom_matrix` -- the original's ``clipped_zoom``: crop the centre ``ceil(n / z)``
  pixels, zoom them by ``z`` and trim the centre ``n`` pixels;
* :func:`box_resize_matrix` -- ``PIL.Image.resize(..., Image.BOX)``; :func:`pil_pass_8bit` applies
  one axis of it as PIL does on 8-bit images (fixed-point weights, a rounded 8-bit result).

:func:`sample_bilinear` reads every image at its own real-valued coordinates (for the warps of
``elastic_transform``) with one gather per bilinear corner.
"""

from __future__ import annotations

import math

import torch

from robnas.corruptions.filters import fold_index


def linear_zoom_matrix(n_in: int, n_out: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``[n_out, n_in]``: scipy.ndimage.zoom's order-1 map, output ``i`` read at ``i * (n_in-1)/(n_out-1)``."""
    step = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    coords = torch.arange(n_out, dtype=torch.float64) * step
    low = coords.floor().clamp(max=n_in - 1)
    frac = coords - low
    low_i = low.long()
    high_i = (low_i + 1).clamp(max=n_in - 1)
    matrix = torch.zeros(n_out, n_in, dtype=torch.float64)
    rows = torch.arange(n_out)
    matrix.index_put_((rows, low_i), 1.0 - frac, accumulate=True)
    matrix.index_put_((rows, high_i), frac, accumulate=True)
    return matrix.to(device=device, dtype=dtype)


def clipped_zoom_matrix(n: int, factor: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``[n, n]``: zoom the centre of a length-``n`` axis by ``factor`` >= 1 and keep the centre ``n`` samples."""
    crop = int(math.ceil(n / factor))
    top = (n - crop) // 2
    zoomed = int(round(crop * factor))  # scipy's output size: round(input size * zoom)
    trim = (zoomed - n) // 2
    zoom = linear_zoom_matrix(crop, zoomed, torch.float64, torch.device("cpu"))[trim:trim + n]
    matrix = torch.zeros(n, n, dtype=torch.float64)
    matrix[:, top:top + crop] = zoom
    return matrix.to(device=device, dtype=dtype)


def box_resize_matrix(n_in: int, n_out: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``[n_out, n_in]``: PIL's BOX resampling weights.

    PIL centres output pixel ``i`` at ``(i + 0.5) * n_in / n_out`` in input units and averages
    the input pixels whose centres lie within half a (stretched) output pixel of it; the box is
    evaluated at pixel centres, so weights are 0 or 1 before normalisation.
    """
    scale = n_in / n_out
    filter_scale = max(scale, 1.0)
    support = 0.5 * filter_scale
    matrix = torch.zeros(n_out, n_in, dtype=torch.float64)
    for out in range(n_out):  # n_out <= image side: building a small matrix, not a per-image loop
        centre = (out + 0.5) * scale
        first = max(int(centre - support + 0.5), 0)
        last = min(int(centre + support + 0.5), n_in)
        for src in range(first, last):
            t = (src - centre + 0.5) / filter_scale
            if -0.5 < t <= 0.5:
                matrix[out, src] = 1.0
        total = matrix[out].sum()
        if total > 0:
            matrix[out] /= total
    return matrix.to(device=device, dtype=dtype)


PIL_PRECISION_BITS = 22  # Pillow's 8-bit resampling keeps 32 - 8 - 2 fractional bits in its weights


def pil_pass_8bit(samples: torch.Tensor, matrix: torch.Tensor, dim: int) -> torch.Tensor:
    """One axis (``dim`` -1: rows of pixels, horizontal; -2: vertical) of PIL's 8-bit resampling.

    ``samples``: integer-valued float64 0..255 ``[..., H, W]``; ``matrix``: ``[n_out, n_in]``
    non-negative weights. PIL turns each weight into ``(int)(0.5 + w * 2**22)``, starts each sum at
    ``2**21`` and keeps ``sum >> 22`` clipped to 0..255 (round half up), after *each* axis. In
    float64 every product and sum here is an exact integer (< 2**53).
    """
    scale = float(1 << PIL_PRECISION_BITS)
    fixed = torch.floor(matrix.to(device=samples.device, dtype=torch.float64) * scale + 0.5)
    moved = samples.transpose(dim, -1)
    out = torch.floor((moved @ fixed.T + scale / 2) / scale).clamp_(0.0, 255.0)
    return out.transpose(dim, -1)


def sample_bilinear(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, mode: str) -> torch.Tensor:
    """Read each image at real coordinates ``(rows, cols)`` (each ``[N, H', W']``) by bilinear interpolation.

    Neighbours outside the image are folded back with border ``mode`` (see ``filters``), which is
    how OpenCV's ``warpAffine`` and scipy's ``map_coordinates(order=1)`` treat them.
    """
    batch, channels, height, width = x.shape
    flat = x.reshape(batch, channels, height * width)
    row0 = rows.floor()
    col0 = cols.floor()
    frac_r = (rows - row0).unsqueeze(1).to(x.dtype).expand(batch, channels, *rows.shape[1:])
    frac_c = (cols - col0).unsqueeze(1).to(x.dtype).expand(batch, channels, *rows.shape[1:])
    row0, col0 = row0.long(), col0.long()
    r0, r1 = fold_index(row0, height, mode), fold_index(row0 + 1, height, mode)
    c0, c1 = fold_index(col0, width, mode), fold_index(col0 + 1, width, mode)
    out_shape = rows.shape[1:]

    def read(r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        index = (r * width + c).reshape(batch, 1, -1).expand(batch, channels, -1)
        return flat.gather(2, index).reshape(batch, channels, *out_shape)

    top = torch.lerp(read(r0, c0), read(r0, c1), frac_c)
    bottom = torch.lerp(read(r1, c0), read(r1, c1), frac_c)
    return torch.lerp(top, bottom, frac_r)
