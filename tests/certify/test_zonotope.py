"""The zonotope certificate is sound (no point of the ball beats it), exact on affine networks, and strict."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robnas.attacks import create_attack
from robnas.certify import certify
from robnas.errors import InvalidValueError
from robnas.spaces import get_space

ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def network():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = get_space("nb201").build(ARCH, num_classes=10, in_channels=1, C=4, N=1)
        for m in model.modules():  # non-trivial running statistics, as after training
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.05, 2.0)
        x = torch.rand(12, 1, 8, 8)
    model.eval()
    with torch.no_grad():
        y = model(x).argmax(1)  # every point correct, so margins are positive at the centre
    return model, x, y


def margins(model, x, y):
    with torch.no_grad():
        logits = model(x).double()
    true = logits.gather(1, y[:, None])
    others = logits.scatter(1, y[:, None], float("-inf"))
    return (true[:, 0] - others.max(1).values)


@pytest.mark.parametrize("eps", [0.2 / 255, 2 / 255, 16 / 255])
def test_no_point_of_the_ball_beats_the_bound(network, eps):
    model, x, y = network
    cert = certify(model, x, y, eps, spare=512)
    assert not cert.overflow.any()
    gen = torch.Generator().manual_seed(1)
    for _ in range(40):  # random points and random corners of the ball (clipped to [0, 1])
        noise = torch.rand(x.shape, generator=gen) * 2 - 1
        if _ % 2:
            noise = noise.sign()
        probe = (x + eps * noise).clamp(0, 1)
        assert (margins(model, probe, y) >= cert.margin.double() - 1e-5).all()
    assert (cert.margin.double() <= margins(model, x, y) + 1e-6).all()
    if cert.certified.any():  # a strong attack never breaks a certified point
        idx = cert.certified.nonzero().flatten()
        pgd = create_attack("pgd", eps=eps, alpha=eps / 4, steps=20, restarts=2).run(model, x[idx], y[idx])
        assert not pgd.success.any()


def test_small_radii_certify_and_large_ones_do_not(network):
    model, x, y = network
    assert certify(model, x, y, 0.01 / 255).certified.all()
    assert not certify(model, x, y, 0.9).certified.any()  # almost the whole image space


def test_an_affine_network_gets_its_exact_margin():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).eval()
    x, eps = torch.rand(5, 1, 8, 8) * 0.5 + 0.25, 0.1  # the ball stays inside [0, 1]
    y = model(x).argmax(1)
    cert = certify(model, x, y, eps)
    w, b = model[1].weight.double(), model[1].bias.double()
    flat = x.flatten(1).double()
    for i in range(5):
        exact = min((w[y[i]] - w[j]) @ flat[i] + b[y[i]] - b[j] - eps * (w[y[i]] - w[j]).abs().sum()
                    for j in range(10) if j != y[i])
        assert cert.margin[i].item() == pytest.approx(exact.item(), rel=1e-5)


def test_too_few_spare_generators_is_not_a_certificate(network):
    model, x, y = network
    cert = certify(model, x, y, 16 / 255, spare=1)
    assert cert.overflow.any() and not cert.certified[cert.overflow].any()


def test_unsupported_layers_and_negative_radii_are_refused(network):
    model, x, y = network
    with pytest.raises(InvalidValueError, match="MaxPool2d"):
        certify(nn.Sequential(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 10)), x, y, 0.01)
    with pytest.raises(InvalidValueError, match="eps must be >= 0"):
        certify(model, x, y, -0.1)


def test_trust_is_declared_by_a_class_itself_not_by_its_name_or_its_parent(network):
    """A module is trusted to combine its children affinely only if its own class says so: neither a
    look-alike name nor inheriting from a trusted class (which may override forward) is enough."""
    from robnas.spaces.darts.ops import Zero

    model, x, y = network

    class Zero2(Zero):  # inherits the declaration's class but not the declaration
        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return t * t

    Lookalike = type("Zero", (nn.Module,), {"forward": lambda self, t: t.abs()})
    for bad in (Zero2(1), Lookalike(), type("Sequential", (nn.Sequential,), {})(nn.Identity())):
        with pytest.raises(InvalidValueError, match="not known to be affine"):
            certify(nn.Sequential(bad, nn.Flatten(), nn.Linear(64, 10)), x, y, 0.01)
    certify(nn.Sequential(Zero(1), nn.Flatten(), nn.Linear(64, 10)), x, y, 0.01)  # the declared class itself
