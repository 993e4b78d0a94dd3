"""``jacobian``: a linear model's norm by hand, and the random-projection estimator against the exact norm."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from robnas.models import Normalize, NormalizedClassifier
from robnas.proxies import compute
from robnas.proxies.jacobian import jacobian_sq_norms, unit_vectors

STD = [0.5, 0.25, 2.0]


def linear_model(classes: int = 4) -> NormalizedClassifier:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 2 * 2, classes))
    return NormalizedClassifier(Normalize([0.1, 0.2, 0.3], STD, 3), net).double()


def small_mlp(classes: int) -> NormalizedClassifier:
    torch.manual_seed(1)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, classes))
    return NormalizedClassifier(Normalize([0.5] * 3, [0.3] * 3, 3), net).double()


def test_linear_model_norm_is_the_weight_norm_over_the_input_std():
    model = linear_model()
    x = torch.rand(5, 3, 2, 2, dtype=torch.float64)
    weight = model.net[1].weight.detach()  # [C, 12]; input value d belongs to channel d // 4
    per_input_std = torch.tensor(STD, dtype=torch.float64).repeat_interleave(4)
    expected = (weight / per_input_std).norm().item()  # the same Jacobian at every point
    assert compute("jacobian", model, x) == pytest.approx(expected, rel=1e-12)
    # the estimator's expectation is exact; with many projections it is close
    assert compute("jacobian", model, x, projections=2000) == pytest.approx(expected, rel=0.03)


def test_estimator_agrees_with_the_exact_norm_within_its_variance():
    """One projection's ``C ||v^T J||^2`` has mean ``tr A`` and variance ``2 (C tr A^2 - (tr A)^2) / (C + 2)``,
    ``A = J J^T`` (fourth moments of v uniform on the sphere: E v_i v_j v_k v_l = (d_ij d_kl + d_ik d_jl +
    d_il d_jk) / (C (C + 2))). With n projections per point the mean over N points of the estimates has
    standard deviation ``sqrt(sum_i var_i / n) / N``: the test allows 5 of them."""
    classes, n, points = 6, 200, 16
    model = small_mlp(classes)
    x = torch.rand(points, 3, 2, 2, dtype=torch.float64)
    jac = torch.stack([torch.autograd.functional.jacobian(lambda xi: model(xi.unsqueeze(0))[0], xi).flatten(1)
                       for xi in x])  # [N, C, D]
    a = jac @ jac.transpose(1, 2)
    trace = a.diagonal(dim1=1, dim2=2).sum(1)
    trace_sq = (a @ a).diagonal(dim1=1, dim2=2).sum(1)
    var = 2 * (classes * trace_sq - trace**2) / (classes + 2)
    exact = jacobian_sq_norms(model, x)
    assert torch.allclose(exact, trace, rtol=1e-10)
    estimate = jacobian_sq_norms(model, x, unit_vectors(n, points, classes, seed=0, like=x))
    sd = (var.sum() / n).sqrt() / points
    assert abs(estimate.mean() - trace.mean()) <= 5 * sd
    assert sd / trace.mean() < 0.05, "the bound must be tight enough to mean something"
    # The proxy (mean of square roots): by the delta method sd(sqrt S_i) ~ sd(S_i) / (2 sqrt(tr A_i)).
    sqrt_sd = (var / (4 * trace) / n).sum().sqrt().item() / points
    proxy = compute("jacobian", model, x, projections=n)
    assert proxy == pytest.approx(trace.sqrt().mean().item(), abs=5 * sqrt_sd)


def test_projections_are_seeded_and_unit():
    model = small_mlp(5)
    x = torch.rand(6, 3, 2, 2, dtype=torch.float64)
    v = unit_vectors(3, 6, 5, seed=0, like=x)
    assert torch.allclose(v.norm(dim=2), torch.ones(3, 6, dtype=torch.float64))
    first = compute("jacobian", model, x, projections=4, seed=1)
    assert compute("jacobian", model, x, projections=4, seed=1) == first
    assert compute("jacobian", model, x, projections=4, seed=2) != first
    assert math.isfinite(first)
