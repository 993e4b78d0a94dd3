"""libjpeg's "islow" integer DCT pair and quantiser, bit-exact, as integer matrix products.

libjpeg (and libjpeg-turbo, which PIL ships) computes the 8x8 DCTs with the Loeffler-Ligtenberg-
Moschytz butterfly in 13-bit fixed point: one pass over rows and one over columns, each ending
in a rounding right shift ("DESCALE"). Inside a pass there is no rounding, so each pass is an
exact integer linear map: an 8x8 integer matrix (built below by running the butterfly on unit
vectors) followed by per-output rounding shifts. Every value stays far below 2**53, so float64
matrix products compute the integer results exactly, batched over all blocks at once.

* forward: samples - 128 -> rows pass (results x 2**PASS1_BITS) -> columns pass (results x 8);
* quantiser: libjpeg-turbo's reciprocal multiply (``compute_reciprocal`` with 16-bit DCT
  elements, as in its SIMD builds), rounding the scaled coefficient to the nearest step;
* inverse: dequantise -> columns pass -> rows pass -> +128, clamped to 0..255.

The integer formulas follow the public descriptions of jfdctint.c / jidctint.c / jcdctmgr.c
(Independent JPEG Group, libjpeg-turbo); the code here is a matrix re-derivation, not a port.
"""

from __future__ import annotations

import functools

import torch

CONST_BITS = 13
PASS1_BITS = 2


def _fix(value: float) -> int:
    return int(value * (1 << CONST_BITS) + 0.5)


C0541, C0765, C1847 = _fix(0.541196100), _fix(0.765366865), _fix(1.847759065)
C1175, C0298, C2053 = _fix(1.175875602), _fix(0.298631336), _fix(2.053119869)
C3072, C1501, C0899 = _fix(3.072711026), _fix(1.501321110), _fix(0.899976223)
C2562, C1961, C0390 = _fix(2.562915447), _fix(1.961570560), _fix(0.390180644)


def _odd_rotation(a: int, b: int, c: int, d: int) -> tuple[int, int, int, int]:
    """LL&M odd part shared by both directions: inputs (i0, i1, i2, i3), outputs in the same order."""
    z1, z2, z3, z4 = a + d, b + c, a + c, b + d
    z5 = (z3 + z4) * C1175
    z1, z2 = -z1 * C0899, -z2 * C2562
    z3, z4 = -z3 * C1961 + z5, -z4 * C0390 + z5
    return a * C0298 + z1 + z3, b * C2053 + z2 + z4, c * C3072 + z2 + z3, d * C1501 + z1 + z4


def _forward_butterfly(x: list[int]) -> list[int]:
    """One forward pass before descaling; even outputs 0 and 4 are unscaled sums, the rest x 2**13."""
    t0, t7 = x[0] + x[7], x[0] - x[7]
    t1, t6 = x[1] + x[6], x[1] - x[6]
    t2, t5 = x[2] + x[5], x[2] - x[5]
    t3, t4 = x[3] + x[4], x[3] - x[4]
    t10, t13, t11, t12 = t0 + t3, t0 - t3, t1 + t2, t1 - t2
    z1 = (t12 + t13) * C0541
    o7, o5, o3, o1 = _odd_rotation(t4, t5, t6, t7)
    return [t10 + t11, o1, z1 + t13 * C0765, o3, t10 - t11, o5, z1 - t12 * C1847, o7]


def _inverse_butterfly(x: list[int]) -> list[int]:
    """One inverse pass before descaling (all outputs x 2**13)."""
    z1 = (x[2] + x[6]) * C0541
    t2, t3 = z1 - x[6] * C1847, z1 + x[2] * C0765
    t0, t1 = (x[0] + x[4]) << CONST_BITS, (x[0] - x[4]) << CONST_BITS
    t10, t13, t11, t12 = t0 + t3, t0 - t3, t1 + t2, t1 - t2
    o0, o1, o2, o3 = _odd_rotation(x[7], x[5], x[3], x[1])
    return [t10 + o3, t11 + o2, t12 + o1, t13 + o0, t13 - o0, t12 - o1, t11 - o2, t10 - o3]


def _matrix(butterfly) -> torch.Tensor:  # type: ignore[no-untyped-def]
    columns = [butterfly([int(i == j) for i in range(8)]) for j in range(8)]
    return torch.tensor(columns, dtype=torch.float64).T.contiguous()  # [out, in]


_EVEN = (0, 4)
# Forward pass 1 shifts the even outputs left by PASS1_BITS and descales the others by 13 - 2;
# pass 2 descales the even outputs by 2 and the others by 13 + 2.
FORWARD = _matrix(_forward_butterfly)
FORWARD_ROWS = FORWARD * torch.tensor([4.0 if k in _EVEN else 1.0 for k in range(8)], dtype=torch.float64)[:, None]
FORWARD_ROW_SHIFTS = tuple(0 if k in _EVEN else CONST_BITS - PASS1_BITS for k in range(8))
FORWARD_COL_SHIFTS = tuple(PASS1_BITS if k in _EVEN else CONST_BITS + PASS1_BITS for k in range(8))
INVERSE = _matrix(_inverse_butterfly)
INVERSE_COL_SHIFT = CONST_BITS - PASS1_BITS
INVERSE_ROW_SHIFT = CONST_BITS + PASS1_BITS + 3


def _descale(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """``(x + 2**(s-1)) >> s`` per entry (s = 0: unchanged), exact on integer-valued float64."""
    scale = torch.exp2(shifts)
    half = torch.where(shifts > 0, scale / 2, torch.zeros_like(scale))
    return torch.floor((x + half) / scale)


@functools.lru_cache(maxsize=8)
def _operators(device: torch.device) -> dict[str, torch.Tensor]:
    """Both passes of both transforms as [64, 64] maps on row-major flattened blocks, plus shifts."""
    eye = torch.eye(8, dtype=torch.float64)
    row_shift = torch.tensor(FORWARD_ROW_SHIFTS, dtype=torch.float64)
    col_shift = torch.tensor(FORWARD_COL_SHIFTS, dtype=torch.float64)
    ops = {
        "fwd_rows": torch.kron(eye, FORWARD_ROWS),  # each row r of a block: A r
        "fwd_cols": torch.kron(FORWARD, eye),       # each column: A c
        "inv_cols": torch.kron(INVERSE, eye),
        "inv_rows": torch.kron(eye, INVERSE),
        "fwd_row_shifts": row_shift.repeat(8),       # output (u, v) of the row pass has shift[v]
        "fwd_col_shifts": col_shift[:, None].expand(8, 8).reshape(64),  # column pass: shift[u]
    }
    return {name: op.to(device) for name, op in ops.items()}


def _reciprocals(divisors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """libjpeg-turbo's ``compute_reciprocal`` (16-bit DCT elements) for each divisor (8 x quantiser)."""
    recips, corrections, shifts = [], [], []
    for divisor in divisors.long().tolist():
        b = divisor.bit_length() - 1
        r = 16 + b
        fq, fr = divmod(1 << r, divisor)
        c = divisor // 2
        if fr == 0:  # power of two
            fq >>= 1
            r -= 1
        elif fr <= divisor // 2:
            c += 1
        else:
            fq += 1
        recips.append(fq)
        corrections.append(c)
        shifts.append(r)
    as_tensor = functools.partial(torch.tensor, dtype=torch.float64, device=divisors.device)
    return as_tensor(recips), as_tensor(corrections), as_tensor(shifts)


def forward_quantised(blocks: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Quantised DCT coefficients (integer-valued float64 ``[M, 64]``) of 8-bit blocks ``[M, 64]``."""
    ops = _operators(blocks.device)
    x = blocks.to(torch.float64) - 128.0
    x = _descale(x @ ops["fwd_rows"].T, ops["fwd_row_shifts"])
    x = _descale(x @ ops["fwd_cols"].T, ops["fwd_col_shifts"])  # the DCT, scaled by 8
    recip, correction, shift = _reciprocals((table.reshape(64) * 8).to(blocks.device))
    magnitude = torch.floor((x.abs() + correction) * recip / torch.exp2(shift))
    return torch.sign(x) * magnitude


def inverse_quantised(coeffs: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """8-bit samples (float64 ``[M, 64]`` in 0..255) decoded from quantised coefficients ``[M, 64]``."""
    ops = _operators(coeffs.device)
    x = coeffs * table.reshape(64).to(device=coeffs.device, dtype=torch.float64)
    x = _descale(x @ ops["inv_cols"].T, torch.tensor(float(INVERSE_COL_SHIFT), dtype=torch.float64))
    x = _descale(x @ ops["inv_rows"].T, torch.tensor(float(INVERSE_ROW_SHIFT), dtype=torch.float64))
    return (x + 128.0).clamp_(0.0, 255.0)
