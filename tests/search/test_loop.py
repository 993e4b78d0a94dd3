"""The bilevel loop: DARTS' second-order gradient, and a user's own term plugged in without copying the loop."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.func import functional_call

from robnas.data import Split
from robnas.rng import make_generator
from robnas.search.differentiable import loop
from robnas.search.differentiable import BilevelSearch, SearchSettings, SearchTerm, StepInfo, StepPlan
from robnas.spaces import get_space


def _tiny_nb201(dtype=torch.float32):
    torch.manual_seed(0)
    return get_space("nb201").supernet(num_classes=3, in_channels=1, mean=[0.5], std=[0.25], C=2, layers=1).to(dtype)


def test_second_order_gradient_matches_the_exact_unrolled_gradient(monkeypatch):
    # DARTS' radius (0.01 / ||v||) is coarse for so small a network; a fine one isolates the algebra.
    monkeypatch.setattr(loop, "RADIUS", 1e-5)
    net = _tiny_nb201(torch.float64)
    settings = SearchSettings(epochs=1, order=2, lr=0.1, weight_decay=3e-4)
    search = BilevelSearch(net, settings)
    gen = torch.Generator().manual_seed(1)
    xw, xa = (torch.rand(4, 1, 4, 4, generator=gen, dtype=torch.float64) for _ in range(2))
    yw, ya = torch.tensor([0, 1, 2, 0]), torch.tensor([2, 1, 0, 1])
    info = StepInfo(epoch=0, epochs=1, step=0, steps=1, seed=0)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    approx = search.architecture_gradients([], xw, yw, xa, ya, info, {})
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in state.items()), "the virtual step must leave no trace"

    # Exact: d/d alpha of L_val(w - xi (grad_w L_train(w, alpha) + wd w), alpha), by double backprop.
    names = [n for n, p in net.named_parameters() if n != "alphas"]
    weights = [p for n, p in net.named_parameters() if n != "alphas"]
    grads = torch.autograd.grad(F.cross_entropy(net(xw), yw), weights, create_graph=True, allow_unused=True)
    unrolled = {n: w - settings.lr * ((g if g is not None else 0) + settings.weight_decay * w)
                for n, w, g in zip(names, weights, grads)}
    val = F.cross_entropy(functional_call(net, {**unrolled, "alphas": net.alphas}, (xa,)), ya)
    (exact,) = torch.autograd.grad(val, [net.alphas])
    assert torch.allclose(approx[0], exact, rtol=1e-5, atol=1e-9), (approx[0] - exact).abs().max()
    plain = BilevelSearch(net, SearchSettings(epochs=1, order=1)).architecture_gradients([], xw, yw, xa, ya, info, {})[0]
    assert not torch.allclose(plain, exact, rtol=1e-3, atol=1e-7), "second order must differ from first order"


class ShrinkAlphas(SearchTerm):
    """A user's term: an L2 pull on the alphas, weights first, and a record of what it saw."""

    name = "shrink"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def active(self, info):
        return info.epoch >= 1

    def plan(self, info):
        return StepPlan(weights_first=True)

    def weight_batch(self, model, x, y, info):
        self.calls.append("weight_batch")
        return x.flip(-1), y

    def arch_loss(self, model, x, y, info):
        self.calls.append("arch_loss")
        return 0.1 * sum((a * a).sum() for a in model.arch_parameters())

    def after_step(self, model, x, y, info):
        self.calls.append("after_step")
        return {"norm": float(sum(a.detach().norm() for a in model.arch_parameters()))}


def test_a_user_term_plugs_into_the_loop():
    net = _tiny_nb201()
    term = ShrinkAlphas()
    search = BilevelSearch(net, SearchSettings(epochs=2, batch_size=4), [term])
    gen = torch.Generator().manual_seed(0)
    split = Split(torch.randint(0, 256, (8, 1, 4, 4), dtype=torch.uint8, generator=gen), torch.arange(8) % 3)
    data_gen = make_generator(0)
    first = search.run_epoch(0, split, split, data_gen)
    assert term.calls == [] and "shrink" not in first  # inactive during epoch 0
    second = search.run_epoch(1, split, split, data_gen)
    assert term.calls == ["weight_batch", "arch_loss", "after_step"] * 2
    assert second["shrink"] > 0 and second["shrink_norm"] > 0 and second["arch_steps"] == 2
