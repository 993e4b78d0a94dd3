"""Each reliability flag fires on a model built to trigger it and stays quiet on a normal model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from robnas.pipeline.config import EvalConfig
from robnas.data import Split
from robnas.evaluation import evaluate, protocol_for
from robnas.evaluation.reliability import probe_flags, result_flags
from tests.evaluation.records import record_of


def as_split(x: torch.Tensor, y: torch.Tensor) -> Split:
    return Split((x * 255).round().to(torch.uint8), y)


def evaluate_model(model: nn.Module, split: Split, cfg: EvalConfig, num_classes: int):
    """The engine on the protocol of an [eval] section."""
    return evaluate(model, split, protocol_for(cfg), num_classes, batch_size=cfg.batch_size,
                    reliability=cfg.reliability)


class Softmaxed(nn.Module):
    """Returns probabilities (or log-probabilities) instead of logits."""

    def __init__(self, base: nn.Module, log: bool = False) -> None:
        super().__init__()
        self.base, self.log = base, log

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.base(x)
        return F.log_softmax(logits, 1) if self.log else F.softmax(logits, 1)


class Noisy(nn.Module):
    """Adds fresh Gaussian noise to the input on every call, even in eval mode."""

    def __init__(self, base: nn.Module) -> None:
        super().__init__()
        self.base = base

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x + 0.05 * torch.randn_like(x))


class Quantised(nn.Module):
    """Rounds its input to 4 grey levels: the rounding has a zero gradient everywhere."""

    def __init__(self, base: nn.Module) -> None:
        super().__init__()
        self.base = base

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(torch.round(x * 3) / 3)


class _GridGate(torch.autograd.Function):
    """Identity whose gradient passes only at points of the 1/255 grid (clean uint8 images)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        on_grid = ((x * 255 - (x * 255).round()).abs() < 1e-3).flatten(1).all(1)
        return grad * on_grid.view(-1, *([1] * (x.dim() - 1)))


class GradientOnlyAtCleanPoints(nn.Module):
    """FGSM (which starts at the clean point) sees true gradients; PGD's random start sees zero."""

    def __init__(self, base: nn.Module) -> None:
        super().__init__()
        self.base = base

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(_GridGate.apply(x))


class SafeWhenFar(nn.Module):
    """Answers as at the nearest stored clean image when the input is farther than ``tau`` (Linf) from it:
    large perturbations are 'undone', small ones reach the base model, so accuracy rises with eps."""

    def __init__(self, base: nn.Module, stored: torch.Tensor, tau: float) -> None:
        super().__init__()
        self.base, self.tau = base, tau
        self.register_buffer("stored", stored)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dist = (x.flatten(1)[:, None, :] - self.stored.flatten(1)[None]).abs().amax(2)
        nearest_dist, nearest = dist.min(1)
        far = (nearest_dist > self.tau).view(-1, 1)
        return torch.where(far, self.base(self.stored[nearest]), self.base(x))


@pytest.fixture(scope="module")
def points(digits) -> tuple[torch.Tensor, torch.Tensor]:
    split = as_split(digits.x_test[:100], digits.y_test[:100])
    return split.float_images(), split.labels


def names(flags) -> set[str]:
    return {flag.name for flag in flags}


def test_a_normal_model_raises_no_probe_flag(trained_cnn, points):
    assert probe_flags(trained_cnn, *points) == []


def test_the_probe_leaves_the_global_rng_and_modes_alone(trained_cnn, points):
    model = Noisy(trained_cnn)
    model.train()
    state = torch.get_rng_state()
    assert "randomized_forward" in names(probe_flags(model, *points))
    assert torch.equal(state, torch.get_rng_state())
    assert model.training


@pytest.mark.parametrize("log", [False, True])
def test_probability_outputs(trained_cnn, points, log):
    assert "probability_outputs" in names(probe_flags(Softmaxed(trained_cnn, log), *points))


def test_randomised_forward(trained_cnn, points):
    assert "randomized_forward" in names(probe_flags(Noisy(trained_cnn), *points))


def test_zero_gradients_and_unbounded_eps(trained_cnn, points):
    found = names(probe_flags(Quantised(trained_cnn), *points))
    assert {"zero_gradients", "unbounded_eps_not_zero"} <= found


def test_pgd_weaker_than_fgsm(trained_cnn, digits):
    split = as_split(digits.x_test[:100], digits.y_test[:100])
    cfg = EvalConfig(attacks=("fgsm", "pgd"), eps=(0.1,), reliability=False)
    record = evaluate_model(GradientOnlyAtCleanPoints(trained_cnn), split, cfg, num_classes=10)
    assert "pgd_weaker_than_fgsm" in names(result_flags(record))
    normal = evaluate_model(trained_cnn, split, cfg, num_classes=10)
    assert result_flags(normal) == []


def test_accuracy_not_monotone_in_eps(trained_cnn, digits):
    split = as_split(digits.x_test[:100], digits.y_test[:100])
    cfg = EvalConfig(attacks=("fgsm",), eps=(0.05, 0.15), hrs_attack="fgsm", reliability=False)
    model = SafeWhenFar(trained_cnn, split.float_images(), tau=0.1)
    record = evaluate_model(model, split, cfg, num_classes=10)
    assert "not_monotone_in_eps" in names(result_flags(record))
    assert result_flags(evaluate_model(trained_cnn, split, cfg, num_classes=10)) == []


def test_flags_are_in_the_record_and_the_report(trained_cnn, digits):
    from robnas.report.table import robustness_table

    split = as_split(digits.x_test[:60], digits.y_test[:60])
    cfg = EvalConfig(attacks=("fgsm", "pgd"), eps=(8 / 255,))
    record = evaluate_model(Softmaxed(trained_cnn), split, cfg, num_classes=10)
    assert "probability_outputs" in {flag.name for flag in record.reliability}
    table = robustness_table([{"evaluation": record, "label": "soft", "params": 1000}])
    assert "**probability_outputs**" in table


def test_result_flags_read_records():
    runs = {
        "fgsm": {"8/255": 40.0, "4/255": 60.0},
        "pgd": {"8/255": 45.0, "4/255": 55.0},
        "square": {"8/255": 30.0, "4/255": 54.5},
    }
    found = names(result_flags(record_of(runs)))
    assert found == {"pgd_weaker_than_fgsm", "black_box_stronger"}
    runs["pgd"]["16/255"] = 50.0
    assert "not_monotone_in_eps" in names(result_flags(record_of(runs)))


def test_result_flags_follow_the_attack_classes_not_names():
    # PGD-20 is a PGD (it refines FGSM); a black-box attack is compared with the white-box ones of its norm only.
    flags = result_flags(record_of({"fgsm": {"8/255": 40.0}, "pgd-20": {"8/255": 45.0}}))
    assert [f.name for f in flags] == ["pgd_weaker_than_fgsm"] and "PGD-20 leaves 45.00%" in flags[0].message
    assert names(result_flags(record_of({"fgsm": {"8/255": 40.0}, "bim": {"8/255": 45.0}}))) == {"bim_weaker_than_fgsm"}
    assert result_flags(record_of({"square": {"8/255": 30.0}, "pgd": {"8/255": 45.0}}, norm="L2"))[0].name == \
        "black_box_stronger"
    assert result_flags(record_of({"square": {"8/255": 30.0}, "mifgsm": {"8/255": 31.0}})) == []
