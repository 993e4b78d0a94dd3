"""AdvRush's curvature term: gradients w.r.t. the alphas, the linear case, and the Hessian-vector product."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from robnas.errors import InvalidValueError
from robnas.nn.normalize import Normalize
from robnas.search.differentiable import AdvRushTerm, StepInfo, input_curvature
from robnas.search.differentiable.advrush import curvature_direction, official_curvature, summed_cross_entropy
from robnas.spaces import get_space


def test_gradient_wrt_alphas_matches_finite_differences():
    torch.manual_seed(0)
    net = get_space("nb201").supernet(num_classes=3, in_channels=1, mean=[0.5], std=[0.25], C=2, layers=1).double()
    x, y = torch.rand(3, 1, 4, 4, dtype=torch.float64), torch.tensor([0, 1, 2])
    with torch.no_grad():
        net.alphas.normal_(0, 1)  # away from the uniform start, so the term depends on the alphas
    value = input_curvature(net, x, y, h=0.5)
    (grad,) = torch.autograd.grad(value, [net.alphas])
    direction = torch.randn_like(net.alphas)
    eps = 1e-5
    base = net.alphas.detach().clone()
    values = []
    for sign in (1, -1):
        with torch.no_grad():
            net.alphas.copy_(base + sign * eps * direction)
        values.append(input_curvature(net, x, y, h=0.5).detach())
    plus, minus = values
    numeric = (plus - minus) / (2 * eps)
    analytic = (grad * direction).sum()
    assert abs(analytic) > 1e-6, "the test needs a term that actually depends on the alphas"
    assert torch.allclose(analytic, numeric, rtol=1e-4, atol=1e-9), (analytic.item(), numeric.item())


def test_vanishes_when_the_loss_is_linear_in_the_input():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).double()
    x, y = torch.rand(4, 1, 4, 4, dtype=torch.float64), torch.tensor([0, 1, 2, 0])
    linear_loss = lambda logits, labels: (logits * torch.arange(1.0, 4.0, dtype=logits.dtype)).sum()  # noqa: E731
    assert input_curvature(model, x, y, h=1.5, loss_fn=linear_loss).item() == pytest.approx(0.0, abs=1e-12)
    assert input_curvature(model, x, y, h=1.5).item() > 1e-3  # cross-entropy is curved


def test_small_h_matches_the_input_hessian_vector_product():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    x, y = torch.rand(5, 1, 4, 4, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1])
    xr = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(summed_cross_entropy(model(xr), y), xr, create_graph=True)
    z = curvature_direction(grad)
    assert torch.allclose(z.flatten(1).norm(dim=1), torch.ones(5, dtype=torch.float64))
    (hz,) = torch.autograd.grad(grad, xr, grad_outputs=z)  # per-sample H_i z_i (samples are independent)
    expected = hz.flatten(1).norm(dim=1).mean()
    h = 1e-5
    assert input_curvature(model, x, y, h=h).item() / h == pytest.approx(expected.item(), rel=1e-4)


def test_term_waits_for_the_warm_up_and_checks_its_values():
    term = AdvRushTerm(gamma=0.01, h=1.5, warmup_epochs=5)
    info = lambda epoch: StepInfo(epoch=epoch, epochs=6, step=0, steps=1, seed=0)  # noqa: E731
    assert not term.active(info(4)) and term.active(info(5))
    for bad in (dict(gamma=-0.1), dict(h=0.0), dict(warmup_epochs=-1)):
        with pytest.raises(InvalidValueError):
            AdvRushTerm(**bad)


def test_reusing_the_architecture_forward_gives_the_same_term_and_gradient():
    """The loop's shared forward (one double-backward from the architecture loss's graph) changes nothing."""
    from robnas.search.differentiable.terms import ArchForward

    torch.manual_seed(1)
    net = get_space("nb201").supernet(num_classes=3, in_channels=1, mean=[0.5], std=[0.25], C=2, layers=1).double()
    net.train()  # the architecture step's mode: batch statistics
    with torch.no_grad():
        net.alphas.normal_(0, 1)
    x, y = torch.rand(6, 1, 4, 4, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2])
    term = AdvRushTerm(gamma=0.3, h=0.5)
    info = StepInfo(epoch=5, epochs=6, step=0, steps=1, seed=0)
    separate = term.arch_loss(net, x, y, info) + nn.functional.cross_entropy(net(x), y)
    (g_separate,) = torch.autograd.grad(separate, [net.alphas])
    leaf = x.clone().requires_grad_(True)
    logits = net(leaf)
    shared = term.arch_loss_from(net, x, y, info, ArchForward(leaf, y, logits)) + nn.functional.cross_entropy(logits, y)
    (g_shared,) = torch.autograd.grad(shared, [net.alphas])
    assert shared.item() == pytest.approx(separate.item(), rel=1e-12)
    torch.testing.assert_close(g_shared, g_separate, rtol=1e-10, atol=1e-12)
    assert term.arch_loss_from(net, x, y, info, None).item() == pytest.approx(term.arch_loss(net, x, y, info).item())


class _LinearWithBN(nn.Module):
    """Normalize -> linear -> batch norm: in eval mode an affine map of the normalised input."""

    def __init__(self, mean: list[float] | None, std: list[float] | None) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std, 2)
        self.linear = nn.Linear(8, 3)
        self.bn = nn.BatchNorm1d(3)
        with torch.no_grad():
            self.bn.running_mean.copy_(torch.tensor([0.3, -0.2, 0.1]))
            self.bn.running_var.copy_(torch.tensor([2.0, 0.5, 1.5]))
            self.bn.weight.copy_(torch.tensor([1.5, 0.7, -1.2]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.linear(self.normalize(x).flatten(1)))


def _eval_affine(model: _LinearWithBN) -> tuple[torch.Tensor, torch.Tensor]:
    """``A, c`` with eval-mode logits ``A x_n + c`` of the normalised input ``x_n``."""
    bn = model.bn
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale[:, None] * model.linear.weight, scale * (model.linear.bias - bn.running_mean) + bn.bias


def test_official_term_matches_a_hand_computation():
    """4 x mean_i ||A^T (softmax(A (x_i + h z_i) + c) - softmax(A x_i + c))|| in normalised space, with
    z_i = h sign(g_i) / sqrt(D), g_i = A^T (softmax(A x_i + c) - e_{y_i}): the official code's term."""
    torch.manual_seed(0)
    mean, std = [0.4, 0.6], [0.2, 0.3]
    model = _LinearWithBN(mean, std).double().train()  # the search calls the term in training mode
    x, y = torch.rand(5, 2, 2, 2, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1])
    gamma, h = 0.5, 1.5
    term = AdvRushTerm(gamma=gamma, h=h, warmup_epochs=0, compat="official")
    value = term.arch_loss(model, x, y, StepInfo(epoch=0, epochs=2, step=0, steps=1, seed=0))
    assert model.training and model.bn.training  # eval mode only inside the term
    A, c = (t.detach() for t in _eval_affine(model))
    x_n = ((x - model.normalize.mean) / model.normalize.std).flatten(1)  # the stats as stored (float32 values)
    probs = torch.softmax(x_n @ A.T + c, dim=1)
    g = (probs - F.one_hot(y, 3).double()) @ A
    z = h * torch.sign(g) / g.shape[1] ** 0.5
    d = (torch.softmax((x_n + z) @ A.T + c, dim=1) - probs) @ A
    expected = gamma * 4 * d.norm(dim=1).mean()
    assert value.item() == pytest.approx(expected.item(), rel=1e-10)
    # robnas's own term differs: training-mode batch statistics and pixel space
    assert term.params.gamma * 4 * input_curvature(model, x, y, h).item() != pytest.approx(expected.item(), rel=1e-2)


def test_official_term_is_four_times_eq_10_in_the_same_mode_and_space():
    torch.manual_seed(1)
    model = _LinearWithBN(None, None).double().eval()
    x, y = torch.rand(6, 2, 2, 2, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2])
    assert official_curvature(model, x, y, 1.5).item() == pytest.approx(4 * input_curvature(model, x, y, 1.5).item(),
                                                                        rel=1e-12)


def test_official_compat_keeps_the_first_architecture_batch():
    info = lambda epoch: StepInfo(epoch=epoch, epochs=6, step=0, steps=1, seed=0)  # noqa: E731
    model = _LinearWithBN([0.5, 0.5], [0.25, 0.25]).double()
    first = torch.rand(4, 2, 2, 2, dtype=torch.float64), torch.tensor([0, 1, 2, 0])
    later = torch.rand(4, 2, 2, 2, dtype=torch.float64), torch.tensor([2, 2, 1, 0])
    term = AdvRushTerm(warmup_epochs=5, compat="official")
    # from the first step on (L_val reads the fixed batch as the official code does); the term waits
    assert term.active(info(0)) and term.arch_loss(model, *first, info(0)) is None
    assert term.arch_batch(model, *first, info(0))[0] is not first[0]
    xa, ya = term.arch_batch(model, *later, info(3))
    assert torch.equal(xa, first[0]) and torch.equal(ya, first[1])
    on_later = term.arch_loss(model, *later, info(5))
    assert on_later.item() == pytest.approx(term.params.gamma * official_curvature(model, *first, 1.5).item())
    resumed = AdvRushTerm(warmup_epochs=5, compat="official")
    resumed.load_state_dict(term.state_dict())
    assert torch.equal(resumed.arch_batch(model, *later, info(5))[0], first[0])
    # the default reads every batch as it comes, and only after the warm-up
    plain = AdvRushTerm(warmup_epochs=5)
    assert not plain.active(info(4)) and plain.arch_batch(model, *later, info(5))[0] is later[0]
    assert plain.state_dict() == {}
    with pytest.raises(InvalidValueError, match="compat must be one of robnas, official") as error:
        AdvRushTerm(compat="paper")
    assert "\n" not in str(error.value)


def test_the_loops_lean_architecture_gradient_equals_plain_autograd():
    """The search step builds its gradient graphs in the lean double-backward scope with the weights held
    constant (robnas.nn.double_backward); the alphas' gradient is that of plain autograd, written out here,
    on the DARTS supernet (depthwise, dilated and strided convolutions)."""
    from robnas.search.differentiable import BilevelSearch, SearchSettings

    torch.manual_seed(2)
    net = get_space("darts").supernet(num_classes=3, in_channels=1, mean=[0.5], std=[0.25], C=4, layers=3).double()
    with torch.no_grad():
        for a in net.arch_parameters():
            a.normal_(0, 1)
    x, y = torch.rand(6, 1, 8, 8, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2])
    term = AdvRushTerm(gamma=0.3, h=0.5, warmup_epochs=0)
    search = BilevelSearch(net, SearchSettings(epochs=1), [term])
    net.train()
    metrics: dict[str, float] = {}
    lean = search.architecture_gradients([term], x, y, x, y, StepInfo(epoch=0, epochs=1, step=0, steps=1, seed=0),
                                         metrics)
    assert all(p.requires_grad for p in net.weight_parameters())  # constant only for the step

    leaf = x.clone().requires_grad_(True)
    logits = net(leaf)
    (g,) = torch.autograd.grad(summed_cross_entropy(logits, y), leaf, create_graph=True)
    shifted = (x + 0.5 * curvature_direction(g)).requires_grad_(True)
    (g2,) = torch.autograd.grad(summed_cross_entropy(net(shifted), y), shifted, create_graph=True)
    curvature = (g2 - g).flatten(1).norm(dim=1).mean()
    plain = torch.autograd.grad(F.cross_entropy(logits, y) + 0.3 * curvature, net.arch_parameters())
    assert metrics["advrush"] == pytest.approx(0.3 * curvature.item(), rel=1e-12)
    for got, want in zip(lean, plain):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("order", [1, 2])
def test_lean_double_backward_changes_no_architecture_gradient(order, monkeypatch):
    """First and second order: the loop with the lean scope and constant weights gives the alphas the
    gradient it gives with both switched off (plain autograd everywhere)."""
    from contextlib import nullcontext

    import robnas.proxies.curvature as curvature_module
    import robnas.search.differentiable.loop as loop_module
    from robnas.search.differentiable import BilevelSearch, SearchSettings

    def gradients() -> list[torch.Tensor]:
        torch.manual_seed(3)
        net = get_space("darts").supernet(num_classes=3, in_channels=1, mean=[0.5], std=[0.25], C=4,
                                          layers=3).double()
        with torch.no_grad():
            for a in net.arch_parameters():
                a.normal_(0, 1)
        x, y = torch.rand(6, 1, 8, 8, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2])
        term = AdvRushTerm(gamma=0.3, h=0.5, warmup_epochs=0)
        search = BilevelSearch(net, SearchSettings(epochs=1, order=order), [term])
        net.train()
        return search.architecture_gradients([term], x, y, x.flip(0), y.flip(0),
                                             StepInfo(epoch=0, epochs=1, step=0, steps=1, seed=0), {})

    lean = gradients()
    for module in (loop_module, curvature_module):
        monkeypatch.setattr(module, "lean_double_backward", nullcontext)
    monkeypatch.setattr(loop_module, "constant", lambda params: nullcontext())
    plain = gradients()
    for got, want in zip(lean, plain):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
