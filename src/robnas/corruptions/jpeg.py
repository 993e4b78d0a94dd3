"""Baseline JPEG encode + decode in torch: what ``PIL.Image.save(..., "JPEG", quality=q)`` followed by
``Image.open`` does to the pixels (``jpeg_compression``), for a whole batch at once.

Steps, with libjpeg's defaults (which PIL uses):

1. The image as 8-bit samples (the original saves a uint8 PIL image). Colour images go to
   YCbCr (JFIF, full range); greyscale ones keep one component, as PIL saves mode ``L``.
2. Colour: chroma subsampled 4:2:0 (libjpeg's default) by 2x2 averaging. Edges are extended as
   libjpeg does: rows to whole 16-pixel MCUs by repeating the last column, columns only to an
   even height, then the last averaged chroma row is repeated to fill the 8x8 block.
3. Per 8x8 block: level shift -128, orthonormal 2-D DCT-II, quantisation by the ITU-T T.81
   Annex K luminance/chrominance tables scaled to ``quality`` with libjpeg's rule
   (``jpeg_quality_scaling`` + ``jpeg_add_quant_table``), rounding half away from zero.
4. Dequantisation, inverse DCT, +128, rounding and clamping to 0..255 per component.
5. Colour: chroma upsampled by libjpeg's "fancy" triangle filter, YCbCr -> RGB.

The DCTs and the quantiser are libjpeg's integer "islow" path, bit-exact (``intdct.py``); colour
conversion, 2x2 downsampling and fancy upsampling are emulated bit-exactly in libjpeg's 16-bit
fixed point (their rounding is systematic: a plain float version was ~0.5 grey levels off PIL
on the chroma channels). Entropy coding is lossless and skipped. The result equals what PIL
(Pillow with libjpeg-turbo) decodes, bit for bit (tests compare at every quality, on smooth
images and on noise), and is already 8-bit.
"""

from __future__ import annotations

import torch

from robnas.corruptions.filters import pad
from robnas.corruptions.intdct import forward_quantised, inverse_quantised

# ITU-T T.81 Annex K, tables K.1 (luminance) and K.2 (chrominance), rows of the 8x8 block.
LUMINANCE_TABLE = (
    (16, 11, 10, 16, 24, 40, 51, 61),
    (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77),
    (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101),
    (72, 92, 95, 98, 112, 100, 103, 99),
)
CHROMINANCE_TABLE = (
    (17, 18, 24, 47, 99, 99, 99, 99),
    (18, 21, 26, 66, 99, 99, 99, 99),
    (24, 26, 56, 99, 99, 99, 99, 99),
    (47, 66, 99, 99, 99, 99, 99, 99),
    (99, 99, 99, 99, 99, 99, 99, 99),
    (99, 99, 99, 99, 99, 99, 99, 99),
    (99, 99, 99, 99, 99, 99, 99, 99),
    (99, 99, 99, 99, 99, 99, 99, 99),
)

# libjpeg does the colour conversion and the chroma resampling on 8-bit samples in 16-bit fixed
# point (jccolor.c, jcsample.c, jdsample.c, jdcolor.c); these steps are emulated exactly below,
# because their rounding is systematic (a float version was ~0.5 levels off PIL's chroma).
_BITS = 16
_HALF = 1 << (_BITS - 1)


def _fix(value: float) -> int:
    return int(value * (1 << _BITS) + 0.5)


def _shift(value: torch.Tensor) -> torch.Tensor:
    return value >> _BITS  # arithmetic shift: floor division, as libjpeg's RIGHT_SHIFT


def quality_scale(quality: int) -> int:
    """libjpeg's ``jpeg_quality_scaling``: percentage applied to the Annex K tables."""
    quality = min(max(int(quality), 1), 100)
    return 5000 // quality if quality < 50 else 200 - 2 * quality


def quant_table(base: tuple[tuple[int, ...], ...], quality: int) -> torch.Tensor:
    """The 8x8 quantiser of ``base`` at ``quality`` (libjpeg: integer rounding, clamped to 1..255)."""
    scale = quality_scale(quality)
    return torch.tensor([[min(max((v * scale + 50) // 100, 1), 255) for v in row] for row in base],
                        dtype=torch.float64)


def _blocks_roundtrip(plane: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Encode and decode every 8x8 block of the 8-bit ``plane`` ``[N, H, W]`` (H, W multiples of 8)."""
    batch, height, width = plane.shape
    blocks = plane.reshape(batch, height // 8, 8, width // 8, 8).transpose(2, 3).reshape(-1, 64)
    decoded = inverse_quantised(forward_quantised(blocks, table), table)
    return decoded.reshape(batch, height // 8, width // 8, 8, 8).transpose(2, 3).reshape(batch, height, width)


def rgb_to_ycc(rgb: torch.Tensor) -> torch.Tensor:
    """8-bit RGB -> 8-bit YCbCr (int32 ``[N, 3, H, W]``), libjpeg's JFIF conversion with its rounding."""
    r, g, b = rgb.unbind(1)
    offset = (128 << _BITS) + _HALF - 1
    y = _shift(_fix(0.299) * r + _fix(0.587) * g + _fix(0.114) * b + _HALF)
    cb = _shift(-_fix(0.16874) * r - _fix(0.33126) * g + _fix(0.5) * b + offset)
    cr = _shift(_fix(0.5) * r - _fix(0.41869) * g - _fix(0.08131) * b + offset)
    return torch.stack([y, cb, cr], dim=1)


def ycc_to_rgb(ycc: torch.Tensor) -> torch.Tensor:
    """8-bit YCbCr -> 8-bit RGB (int32), libjpeg's table-driven conversion, clamped to 0..255."""
    y, cb, cr = ycc.unbind(1)
    cb, cr = cb - 128, cr - 128
    r = y + _shift(_fix(1.402) * cr + _HALF)
    g = y + _shift(-_fix(0.34414) * cb - _fix(0.71414) * cr + _HALF)
    b = y + _shift(_fix(1.772) * cb + _HALF)
    return torch.stack([r, g, b], dim=1).clamp(0, 255)


def downsample_420(planes: torch.Tensor) -> torch.Tensor:
    """libjpeg's h2v2 downsampling: 2x2 sums with a bias alternating 1, 2 along each row, then / 4."""
    sums = planes[..., 0::2, 0::2] + planes[..., 0::2, 1::2] + planes[..., 1::2, 0::2] + planes[..., 1::2, 1::2]
    bias = 1 + torch.arange(sums.shape[-1], device=planes.device) % 2
    return (sums + bias.to(sums.dtype)) >> 2


def _neighbour(x: torch.Tensor, dim: int, step: int) -> torch.Tensor:
    """``x`` shifted by one sample along ``dim`` (``step`` -1: previous, +1: next), edge repeated."""
    size = x.shape[dim]
    index = (torch.arange(size, device=x.device) + step).clamp(0, size - 1)
    return x.index_select(dim, index)


def upsample_420(planes: torch.Tensor) -> torch.Tensor:
    """libjpeg's h2v2 "fancy" (triangle-filter) upsampling of ``[..., h, w]`` integer samples to ``[..., 2h, 2w]``.

    Each output sample weighs its nearest input sample 9/16, the two next-nearest 3/16 and the
    diagonal one 1/16, with libjpeg's alternating rounding bias (8, 7); edges repeat.
    """
    above = 3 * planes + _neighbour(planes, -2, -1)  # column sums for the upper output row
    below = 3 * planes + _neighbour(planes, -2, +1)  # ... and for the lower one
    rows = []
    for sums in (above, below):
        left = (3 * sums + _neighbour(sums, -1, -1) + 8) >> 4
        right = (3 * sums + _neighbour(sums, -1, +1) + 7) >> 4
        rows.append(torch.stack([left, right], dim=-1).flatten(-2))  # interleave columns
    return torch.stack(rows, dim=-2).flatten(-3, -2)  # interleave rows


def _pad_to(x: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Repeat the last row/column of ``x`` until its height and width are multiples of ``rows``/``cols``."""
    height, width = x.shape[-2:]
    return pad(x, 0, -height % rows, 0, -width % cols, "replicate")


def jpeg_roundtrip(images: torch.Tensor, quality: int) -> torch.Tensor:
    """Encode and decode ``images`` (``[N, C, H, W]`` in [0, 1], C = 1 or 3) at ``quality``; same shape."""
    height, width = images.shape[-2:]
    x = (images.clamp(0.0, 1.0) * 255.0).round().int()  # the uint8 image that PIL would encode (int32 math)
    if images.shape[1] == 1:
        luma = _blocks_roundtrip(_pad_to(x[:, 0], 8, 8), quant_table(LUMINANCE_TABLE, quality))
        return luma[:, None, :height, :width].to(images.dtype) / 255.0
    ycc = rgb_to_ycc(x)
    luma = _blocks_roundtrip(_pad_to(ycc[:, 0], 8, 8), quant_table(LUMINANCE_TABLE, quality))
    # libjpeg extends each row to whole MCUs (16 pixels) before the 2x2 averaging, but extends the
    # columns only to an even height, and then repeats the last *averaged* row to fill the block.
    chroma = downsample_420(_pad_to(ycc[:, 1:], 2, 16))
    chroma = _pad_to(chroma, 8, 8)
    chroma_table = quant_table(CHROMINANCE_TABLE, quality)
    chroma = torch.stack([_blocks_roundtrip(chroma[:, i], chroma_table) for i in range(2)], dim=1)
    # The decoder upsamples only the chroma samples that cover the image, repeating the last one.
    chroma = upsample_420(chroma[:, :, :-(-height // 2), :-(-width // 2)].int())[:, :, :height, :width]
    decoded = torch.cat([luma[:, None, :height, :width].int(), chroma], dim=1)
    return ycc_to_rgb(decoded).to(images.dtype) / 255.0
