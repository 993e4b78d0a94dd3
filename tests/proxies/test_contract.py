"""Every registered proxy keeps the contract (parametrised over ``list_proxies()``, so a new proxy is covered)."""

from __future__ import annotations

import math

import pytest
import torch

from robnas.cli import main
from robnas.errors import InvalidValueError, UnknownNameError
from robnas.proxies import compute, get_proxy, list_proxies, proxy_parameters, register_proxy
from robnas.proxies.base import DIRECTIONS, Proxy
from robnas.registry import registry
from tests.proxies.conftest import EMPTY_ARCH, briefly_trained, tiny_nb201

PROXIES = list_proxies()
POINTS = 12
# Few power iterations keep the suite fast; tol=0 runs them all, so a split cannot change when a point stops.
FAST = {"hessian": {"iterations": 8, "tol": 0.0}, "hessian-weights": {"iterations": 8, "tol": 0.0}}


def _points(digits):
    x, y, _, _ = digits
    return x[:POINTS], y[:POINTS]


def test_the_expected_proxies_are_registered_with_a_direction():
    assert set(PROXIES) >= {"jacobian", "hessian", "hessian-weights", "curvature", "synflow", "jacob_cov",
                            "grad_norm", "params", "flops"}
    assert get_proxy("jacobian").higher_is == "less robust"
    assert get_proxy("synflow").higher_is == "more accurate"
    assert get_proxy("flops").higher_is == "larger network"
    assert registry("proxies").names() == PROXIES


@pytest.mark.parametrize("name", PROXIES)
def test_declares_direction_and_parameters(name):
    cls = get_proxy(name)
    assert cls.name == name and cls.higher_is in DIRECTIONS
    params = proxy_parameters(name)
    assert {"batch_size", "seed"} <= set(params)
    assert all(default is not None for default in params.values())


@pytest.mark.parametrize("trained", [False, True], ids=["init", "trained"])
@pytest.mark.parametrize("name", PROXIES)
def test_finite_float_and_leaves_the_model_as_it_was(name, trained, digits):
    x, y = _points(digits)
    model = tiny_nb201(digits)
    if trained:
        briefly_trained(model, *digits[:2])
    model.train()
    model.net.cells[0].eval()  # mixed modes: each module's own flag must come back
    modes = [m.training for m in model.modules()]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    with torch.no_grad():  # the caller's grad mode does not stop a gradient-based proxy, and is kept
        value = compute(name, model, x, y, **FAST.get(name, {}))
        assert not torch.is_grad_enabled()
    assert isinstance(value, float) and math.isfinite(value), value
    assert [m.training for m in model.modules()] == modes
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items()), "weights or buffers changed"
    assert all(p.grad is None for p in model.parameters()), "a proxy left gradients in .grad"
    assert torch.equal(torch.get_rng_state(), rng), "a proxy drew from the global RNG"


@pytest.mark.parametrize("name", PROXIES)
def test_value_does_not_depend_on_the_batch_split(name, digits):
    x, y = _points(digits)
    model = tiny_nb201(digits)
    params = FAST.get(name, {})
    whole = compute(name, model, x, y, batch_size=len(x), **params)
    split = compute(name, model, x, y, batch_size=5, **params)  # 5 + 5 + 2
    assert split == pytest.approx(whole, rel=1e-4, abs=1e-9)


@pytest.mark.parametrize("name", PROXIES)
def test_same_seed_same_value(name, digits):
    x, y = _points(digits)
    model = tiny_nb201(digits)
    params = {**FAST.get(name, {}), "seed": 3}
    assert compute(name, model, x, y, **params) == compute(name, model, x, y, **params)


@pytest.mark.parametrize("name", PROXIES)
def test_bad_parameters_give_one_line_errors(name, digits):
    x, y = _points(digits)
    model = tiny_nb201(digits)
    for bad in ({"bogus": 1}, {"batch_size": 0}, {"batch_size": 2.5}, {"seed": "a"}):
        with pytest.raises(InvalidValueError) as err:
            compute(name, model, x, y, **bad)
        assert "\n" not in str(err.value) and name in str(err.value)
    with pytest.raises(InvalidValueError, match=r"in \[0, 1\]"):
        compute(name, model, x * 255, y)
    if get_proxy(name).needs_labels:
        with pytest.raises(InvalidValueError, match="labels"):
            compute(name, model, x, None)


def test_proxy_specific_bad_values_and_unknown_names(digits):
    x, y = _points(digits)
    model = tiny_nb201(digits)
    for name, bad in [("jacobian", {"projections": -1}), ("hessian", {"iterations": 0}), ("hessian", {"tol": -1}),
                      ("hessian-weights", {"tol": float("nan")}), ("curvature", {"h": 0})]:
        with pytest.raises(InvalidValueError, match=next(iter(bad))):
            compute(name, model, x, y, **bad)
    with pytest.raises(InvalidValueError, match="at least 2 points"):
        compute("jacob_cov", model, x[:1], y[:1])
    with pytest.raises(UnknownNameError, match="robnas list proxies"):
        compute("jacobain", model, x, y)


def test_a_proxy_without_a_direction_is_refused():
    class NoDirection(Proxy):
        def measure(self, model, x, y):
            return 0.0

    with pytest.raises(ValueError, match="higher_is"):
        register_proxy("no-direction-test")(NoDirection)
    assert "no-direction-test" not in list_proxies()


def test_undefined_values_are_nan_not_errors(digits):
    x, y = _points(digits)
    model = tiny_nb201(digits, arch=EMPTY_ARCH)  # every logit is a constant
    assert math.isnan(compute("jacob_cov", model, x, y))
    assert compute("jacobian", model, x, y) == 0.0
    assert compute("hessian", model, x, y) == 0.0


@pytest.mark.parametrize("name", [n for n in PROXIES if get_proxy(n).higher_is != "larger network"])
def test_a_broken_network_gives_nan_not_an_error(name, digits):
    x, y = _points(digits)
    model = tiny_nb201(digits)
    with torch.no_grad():
        model.net.classifier.weight[0, 0] = float("nan")  # as after a diverged training
    assert math.isnan(compute(name, model, x, y, **FAST.get(name, {})))


def test_cli_lists_proxies(capsys):
    assert main(["list", "proxies"]) == 0
    assert capsys.readouterr().out.split() == PROXIES
