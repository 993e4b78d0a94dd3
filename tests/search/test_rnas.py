"""RNAS: the network vulnerability (Eq. 3-6), the projection onto F <= H (Eq. 9) and Algorithm 1's phases."""

from __future__ import annotations

import pytest
import torch

from robnas.errors import InvalidValueError
from robnas.search.differentiable import RNASTerm, StepInfo, network_vulnerability, project_onto_bound
from robnas.search.differentiable.rnas import cell_vulnerability
from robnas.spaces import get_space


@pytest.fixture
def net_and_batch():
    torch.manual_seed(0)
    net = get_space("nb201").supernet(num_classes=3, in_channels=1, mean=[0.5], std=[0.25], C=4, layers=1)
    with torch.no_grad():
        net.alphas.normal_(0, 1)
    x = torch.rand(6, 1, 8, 8)
    return net, x, (x + 0.1 * torch.randn_like(x)).clamp(0, 1)


def test_vulnerability_is_zero_for_identical_inputs_and_positive_otherwise(net_and_batch):
    net, x, x_adv = net_and_batch
    assert network_vulnerability(net, x, x.clone()).item() == pytest.approx(0.0, abs=1e-7)
    value = network_vulnerability(net, x, x_adv)
    assert value.item() > 0
    (grad,) = torch.autograd.grad(value, [net.alphas])  # differentiable w.r.t. the alphas
    assert grad.abs().sum() > 0
    # Per channel it is a KL divergence between spatial softmaxes: 0 for a shift of the whole map.
    feature = torch.randn(2, 3, 4, 4)
    assert cell_vulnerability(feature, feature + 5.0).item() == pytest.approx(0.0, abs=1e-6)
    assert cell_vulnerability(feature, 2 * feature).item() > 0


def test_projection_satisfies_the_bound_and_stays_put_when_feasible(net_and_batch):
    net, x, x_adv = net_and_batch
    start = net.alphas.detach().clone()
    before = network_vulnerability(net, x, x_adv).item()
    bound = 0.3 * before
    result = project_onto_bound(net, x, x_adv, bound, max_iters=10)
    assert result.before == pytest.approx(before) and result.feasible(bound)
    assert network_vulnerability(net, x, x_adv).item() <= bound
    assert not torch.equal(net.alphas, start)
    moved = net.alphas.detach().clone()
    again = project_onto_bound(net, x, x_adv, bound, max_iters=10)  # already feasible: nearest point is itself
    assert again.iterations == 0 and torch.equal(net.alphas, moved)


def test_algorithm_1_phases():
    term = RNASTerm(warmup_epochs=2, projection_fraction=0.25, steps=1)
    info = lambda epoch, step: StepInfo(epoch=epoch, epochs=5, step=step, steps=8, seed=0)  # noqa: E731
    warm = term.plan(info(1, 0))
    assert warm.weights and not warm.architecture
    search = term.plan(info(2, 5))
    assert search.weights and search.architecture and search.weights_first
    project = term.plan(info(2, 6))  # the last 25% of the 8 iterations only project
    assert not project.weights and not project.architecture
    for bad in (dict(bound=-1.0), dict(projection_fraction=1.0), dict(arch_objective="clean"), dict(eps=-0.1)):
        with pytest.raises(InvalidValueError):
            RNASTerm(**bad)
