"""The diamond-square plasma fractal of ``fog`` (and of the procedural frost), one map per image.

Same recursion as the original ``plasma_fractal`` (a modification of FLHerne's mapgen): a
toroidal ``M x M`` height map (``M`` a power of two) starts at 0; at each step size ``s`` the
centre of every ``s``-square gets the mean of its 4 corners plus noise, then every edge midpoint
the mean of its 4 diamond neighbours plus noise; the noise is ``wibble * U(-wibble, wibble)``
(note: amplitude wibble squared, as in the original), and ``wibble`` starts at 100 and is
divided by ``decay`` after each step. The map is finally scaled to [0, 1] per image.

Batched: every level updates all images at once with strided slices; the loop runs over the
``log2(M)`` levels only.
"""

from __future__ import annotations

import torch

from robnas.corruptions.sampling import uniform


def plasma_fractal(count: int, mapsize: int, decay: float, gen: torch.Generator,
                   like: torch.Tensor) -> torch.Tensor:
    """``[count, mapsize, mapsize]`` fractal maps in [0, 1] on ``like``'s device and dtype."""
    if mapsize < 2 or mapsize & (mapsize - 1):
        raise ValueError(f"plasma map size must be a power of two >= 2, got {mapsize}")
    height_map = torch.zeros(count, mapsize, mapsize, dtype=like.dtype, device=like.device)
    step = mapsize
    wibble = 100.0

    def noisy_mean(neighbour_sum: torch.Tensor) -> torch.Tensor:
        return neighbour_sum / 4 + wibble * uniform(neighbour_sum.shape, gen, neighbour_sum, -wibble, wibble)

    while step >= 2:
        half = step // 2
        corners = height_map[:, 0::step, 0::step]
        square_sum = corners + corners.roll(-1, dims=1)
        square_sum = square_sum + square_sum.roll(-1, dims=2)
        height_map[:, half::step, half::step] = noisy_mean(square_sum)
        centres = height_map[:, half::step, half::step]
        corners = height_map[:, 0::step, 0::step]
        # Midpoints of the horizontal edges: centres above and below, corners left and right.
        row_sum = centres + centres.roll(1, dims=1) + corners + corners.roll(-1, dims=2)
        height_map[:, 0::step, half::step] = noisy_mean(row_sum)
        # Midpoints of the vertical edges: centres left and right, corners above and below.
        col_sum = centres + centres.roll(1, dims=2) + corners + corners.roll(-1, dims=1)
        height_map[:, half::step, 0::step] = noisy_mean(col_sum)
        step //= 2
        wibble /= decay
    flat = height_map.reshape(count, -1)
    flat = flat - flat.amin(dim=1, keepdim=True)
    flat = flat / flat.amax(dim=1, keepdim=True).clamp_min(torch.finfo(flat.dtype).tiny)
    return flat.reshape(count, mapsize, mapsize)
