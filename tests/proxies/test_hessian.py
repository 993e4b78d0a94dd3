"""Hessian eigenvalues: power iteration on known matrices, the linear model by hand, and an exact
eigendecomposition (torch.autograd.functional.hessian + eigvalsh) of a smooth tiny MLP's Hessians."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from robnas.models import Normalize, NormalizedClassifier
from robnas.proxies import compute
from robnas.proxies.eigen import dominant_eigenvalues, largest_eigenvalues

PRECISE = {"iterations": 5000, "tol": 1e-13}


def symmetric(eigenvalues: list[float], seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(len(eigenvalues), len(eigenvalues), generator=gen, dtype=torch.float64))
    return q @ torch.diag(torch.tensor(eigenvalues, dtype=torch.float64)) @ q.T


def test_power_iteration_on_quadratics_returns_the_largest_algebraic_eigenvalue():
    # Hessians of quadratic losses v^T A v / 2: one PSD, one whose dominant eigenvalue is negative, one zero.
    blocks = torch.stack([symmetric([3.0, 1.0, 0.5, 0.0], 0), symmetric([-5.0, 2.0, 1.0, -1.0], 1),
                          torch.zeros(4, 4, dtype=torch.float64)])

    def matvec(v):
        return torch.einsum("bij,bj->bi", blocks, v)

    start = torch.randn(3, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    dominant = dominant_eigenvalues(matvec, start, 2000, 1e-14)
    assert dominant.tolist() == pytest.approx([3.0, -5.0, 0.0], abs=1e-9)
    assert largest_eigenvalues(matvec, start, 2000, 1e-14).tolist() == pytest.approx([3.0, 2.0, 0.0], abs=1e-9)


def linear_model() -> NormalizedClassifier:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    return NormalizedClassifier(Normalize([0.5], [0.25], 1), net).double()


def points(n: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 2, 2, generator=gen, dtype=torch.float64), torch.arange(n) % 3


def test_linear_model_input_hessian_by_hand():
    """f(x) = W (x - m) / s + b: ``H_i = W^T (diag(p_i) - p_i p_i^T) W / s^2``."""
    model, (x, y) = linear_model(), points()
    weight = model.net[1].weight.detach()
    with torch.no_grad():
        p = model(x).softmax(1)
    curvature = torch.diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1)
    hessians = weight.T @ curvature @ weight / 0.25**2
    expected = torch.linalg.eigvalsh(hessians)[:, -1].mean().item()
    assert compute("hessian", model, x, y, **PRECISE) == pytest.approx(expected, rel=1e-8)


def test_linear_model_weight_hessian_by_hand():
    """Mean CE of z = W u + b (W row-major, then b): ``H = mean_i [[A_i (x) u_i u_i^T, A_i (x) u_i], [., A_i]]``
    with ``A_i = diag(p_i) - p_i p_i^T`` (the Hessian of the cross-entropy in the logits)."""
    model, (x, y) = linear_model(), points()
    u = ((x - 0.5) / 0.25).flatten(1)
    with torch.no_grad():
        p = model(x).softmax(1)
    blocks = []
    for ui, pi in zip(u, p):
        a = torch.diag(pi) - torch.outer(pi, pi)
        top = torch.cat([torch.kron(a, torch.outer(ui, ui)), torch.kron(a, ui.view(-1, 1))], dim=1)
        bottom = torch.cat([torch.kron(a, ui.view(1, -1)), a], dim=1)
        blocks.append(torch.cat([top, bottom]))
    expected = torch.linalg.eigvalsh(torch.stack(blocks).mean(0))[-1].item()
    assert compute("hessian-weights", model, x, y, **PRECISE) == pytest.approx(expected, rel=1e-8)
    assert compute("hessian-weights", model, x, y, batch_size=4, **PRECISE) == pytest.approx(expected, rel=1e-8)


def smooth_mlp() -> NormalizedClassifier:
    torch.manual_seed(3)
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 5), nn.Softplus(), nn.Linear(5, 3))
    return NormalizedClassifier(Normalize([0.5], [0.25], 1), net).double()


def test_tiny_mlp_input_hessian_matches_exact_eigendecomposition():
    model, (x, y) = smooth_mlp(), points()
    exact = []
    for xi, yi in zip(x, y):
        h = torch.autograd.functional.hessian(lambda v: F.cross_entropy(model(v.view(1, 1, 2, 2)), yi.view(1)),
                                              xi.flatten())
        exact.append(torch.linalg.eigvalsh(h))
    spectra = torch.stack(exact)
    assert (spectra[:, 0].abs() > spectra[:, -1]).any(), "a point whose dominant eigenvalue is negative tests the shift"
    assert compute("hessian", model, x, y, **PRECISE) == pytest.approx(spectra[:, -1].mean().item(), rel=1e-7)


def test_tiny_mlp_weight_hessian_matches_exact_eigendecomposition():
    model, (x, y) = smooth_mlp(), points()
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])

    def loss(theta):
        pieces = torch.split(theta, [s.numel() for s in shapes])
        weights = {n: t.view(s) for n, t, s in zip(names, pieces, shapes)}
        return F.cross_entropy(functional_call(model, weights, (x,)), y)

    eigenvalues = torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss, flat))
    assert eigenvalues[0] < 0 < eigenvalues[-1], "an indefinite Hessian makes the test meaningful"
    value = compute("hessian-weights", model, x, y, **PRECISE)
    assert value == pytest.approx(eigenvalues[-1].item(), rel=1e-7)
