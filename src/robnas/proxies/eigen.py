"""Largest eigenvalue of symmetric blocks known only through matrix-vector products (power iteration).

``matvec`` maps ``v`` of shape ``[B, D]`` to ``[H_1 v_1, ..., H_B v_B]``: B independent symmetric
blocks (one per point for an input Hessian, one block for a weight Hessian), iterated together.

Power iteration converges to the eigenvalue of largest MAGNITUDE. The proxies want the largest
ALGEBRAIC eigenvalue (the sharpest upward curvature: Zhao et al.'s bound on the adversarial loss
uses lambda_max, and a large negative eigenvalue is not a sharp minimum). Where the dominant
eigenvalue ``mu`` is negative, a second power iteration on ``H - mu I`` (whose eigenvalues
``lambda - mu`` are all >= 0, the largest being ``lambda_max - mu``) recovers ``lambda_max``. Where
``mu >= 0`` it already is ``lambda_max``.

Each block stops on its own when its Rayleigh quotient changes by at most ``tol`` relative to its
size (frozen blocks keep their value): a block's result does not depend on which other blocks share
its batch. A block whose product is zero has eigenvalue 0.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

MatVec = Callable[[torch.Tensor], torch.Tensor]


def _unit_rows(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=1, keepdim=True).clamp_min(torch.finfo(v.dtype).tiny)


def dominant_eigenvalues(matvec: MatVec, v0: torch.Tensor, iterations: int, tol: float,
                         active: torch.Tensor | None = None) -> torch.Tensor:
    """Per block, the Rayleigh quotient of power iteration from ``v0`` (the eigenvalue of largest magnitude).

    Blocks not ``active`` are skipped (their value is 0).
    """
    v = _unit_rows(v0)
    todo = torch.ones(len(v), dtype=torch.bool, device=v.device) if active is None else active.clone()
    value = torch.zeros(len(v), dtype=v.dtype, device=v.device)
    for step in range(iterations):
        if not todo.any():
            break
        hv = matvec(v)
        rayleigh = (v * hv).sum(dim=1)
        norm = hv.norm(dim=1)
        settled = (rayleigh - value).abs() <= tol * rayleigh.abs() if step > 0 else torch.zeros_like(todo)
        settled |= norm == 0  # H v = 0: v is in the null space; its eigenvalue, 0, is the Rayleigh quotient
        value = torch.where(todo, rayleigh, value)
        v = torch.where(todo.unsqueeze(1), _unit_rows(hv), v)
        todo &= ~settled
    return value


def largest_eigenvalues(matvec: MatVec, v0: torch.Tensor, iterations: int, tol: float) -> torch.Tensor:
    """Per block, the largest algebraic eigenvalue (``iterations`` products at most per phase)."""
    mu = dominant_eigenvalues(matvec, v0, iterations, tol)
    negative = mu < 0
    if not negative.any():
        return mu
    shift = mu.unsqueeze(1)
    gap = dominant_eigenvalues(lambda v: matvec(v) - shift * v, v0, iterations, tol, active=negative)
    return torch.where(negative, mu + gap, mu)
