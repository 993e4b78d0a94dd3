"""synflow, jacob_cov, grad_norm by hand on linear models; params, flops and curvature reuse their sources."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from robnas.metrics import count_flops, count_params
from robnas.models import Normalize, NormalizedClassifier
from robnas.proxies import compute
from robnas.proxies.curvature import input_curvature
from robnas.proxies.zero_cost import JACOB_COV_K
from tests.proxies.conftest import tiny_nb201

MEAN, STD = 0.25, 0.5


def normalized(*layers: nn.Module) -> NormalizedClassifier:
    return NormalizedClassifier(Normalize([MEAN], [STD], 1), nn.Sequential(nn.Flatten(), *layers))


def test_synflow_of_a_two_layer_network_by_hand():
    """Absolute weights, all-ones input u = (1 - m) / s, ReLU the identity on positive values:
    R = 1^T |W2| (|W1| u + |b1|) + 1^T |b2|; the weights' terms are R's parts that are linear in them."""
    model = normalized(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    w1 = model.net[1].weight.detach().abs().double()
    b1 = model.net[1].bias.detach().abs().double()
    w2 = model.net[3].weight.detach().abs().double()
    u = torch.full((4,), (1 - MEAN) / STD, dtype=torch.float64)
    first = (w2 @ (w1 @ u)).sum()             # |W1 * dR/dW1| summed
    second = (w2 @ (w1 @ u + b1)).sum()       # |W2 * dR/dW2| summed (biases are not scored)
    expected = (first + second).item()
    assert compute("synflow", model, torch.rand(3, 1, 2, 2)) == pytest.approx(expected, rel=1e-12)


def test_synflow_bypasses_batch_norm_and_counts_in_float64():
    plain = normalized(nn.Linear(4, 5, bias=False), nn.ReLU(), nn.Linear(5, 3, bias=False))
    with_bn = normalized(nn.Linear(4, 5, bias=False), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3, bias=False))
    with torch.no_grad():
        with_bn.net[1].weight.copy_(plain.net[1].weight), with_bn.net[4].weight.copy_(plain.net[3].weight)
        bn = with_bn.net[2]
        bn.running_mean.fill_(5.0), bn.running_var.fill_(0.01), bn.weight.fill_(-3.0), bn.bias.fill_(-2.0)
    x = torch.rand(2, 1, 2, 2)
    assert compute("synflow", with_bn, x) == pytest.approx(compute("synflow", plain, x), rel=1e-12)
    with torch.no_grad():  # |W| = 2^66 per layer: R ~ 2^132 ~ 5e39 overflows float32 (max 3.4e38), not float64
        for layer in (plain.net[1], plain.net[3]):
            layer.weight.fill_(2.0**66)
    value = compute("synflow", plain, x)
    assert math.isfinite(value) and value == pytest.approx(2 * 3 * 5 * 4 * 2.0**132 * (1 - MEAN) / STD, rel=1e-12)


def test_jacob_cov_of_a_linear_model_by_hand():
    """Every point has the same Jacobian row (sum_c W_c / s): the correlation matrix is all ones,
    eigenvalues N, 0, ..., 0."""
    model = normalized(nn.Linear(4, 3)).double()
    n, k = 5, JACOB_COV_K
    expected = -(math.log(n + k) + 1 / (n + k) + (n - 1) * (math.log(k) + 1 / k))
    x = torch.rand(n, 1, 2, 2, dtype=torch.float64)
    assert compute("jacob_cov", model, x) == pytest.approx(expected, rel=1e-9)


def test_jacob_cov_matches_a_direct_computation():
    model = normalized(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    x = torch.rand(3, 1, 2, 2, dtype=torch.float64)  # N <= D: a full-rank correlation matrix
    rows = np.stack([torch.autograd.functional.jacobian(lambda v: model(v.unsqueeze(0)).sum(), xi).flatten().numpy()
                     for xi in x])
    eigenvalues = np.linalg.eigvalsh(np.corrcoef(rows))
    expected = -np.sum(np.log(eigenvalues + JACOB_COV_K) + 1 / (eigenvalues + JACOB_COV_K))
    assert compute("jacob_cov", model, x, batch_size=2) == pytest.approx(expected, rel=1e-10)


def test_grad_norm_of_a_linear_model_by_hand():
    """Mean CE of z_i = W u_i + b: dL/dW = mean_i (p_i - e_{y_i}) u_i^T; the bias is not scored."""
    model = normalized(nn.Linear(4, 3)).double()
    x, y = torch.rand(6, 1, 2, 2, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2])
    u = ((x - MEAN) / STD).flatten(1)
    with torch.no_grad():
        residual = model(x).softmax(1) - F.one_hot(y, 3)
    expected = (residual.T @ u / len(x)).norm().item()
    assert compute("grad_norm", model, x, y, batch_size=4) == pytest.approx(expected, rel=1e-12)


def test_params_and_flops_are_the_metrics_counts(digits):
    model = tiny_nb201(digits)
    x = digits[0][:2]
    assert compute("params", model, x) == count_params(model)
    assert compute("flops", model, x) == count_flops(model, (1, 8, 8))


def test_curvature_is_the_search_terms_quantity_in_eval_mode(digits):
    model = tiny_nb201(digits)
    x, y = digits[0][:6], digits[1][:6]
    model.eval()
    expected = input_curvature(model, x, y, h=0.5).item()
    model.train()
    assert compute("curvature", model, x, y, h=0.5, batch_size=4) == pytest.approx(expected, rel=1e-5)
    assert compute("curvature", model, x, y) != pytest.approx(expected, rel=1e-3)  # h = 1.5 by default
