"""Reliability flags: signs that a robustness evaluation itself cannot be trusted.

A high robust accuracy is only meaningful if the attacks could have found adversarial points.
Following the checklist of Carlini et al. ("On evaluating adversarial robustness", 2019) and the
gradient-masking symptoms of Athalye et al. (2018), every evaluation raises a flag when

* many input gradients are zero or not finite (the attacks had nothing to follow);
* iterative PGD is weaker than single-step FGSM (iterations should never hurt);
* a black-box attack beats the white-box ones (white-box gradients are masked), also inside AutoAttack
  (its Square member breaks points the gradient members left robust);
* accuracy is not monotone in eps (a larger ball contains the smaller one);
* an unbounded radius does not drive accuracy to ~0 (the attack is broken, not the model robust);
* the forward pass is randomised (a single attack run under-estimates what an adversary achieves);
* the outputs look like probabilities rather than logits (softmax saturation hides gradients).

The first, and the last three, are probes of the model on a small batch; the other three read the
results record of :func:`robnas.evaluation.evaluate_model`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from robnas.attacks import create_attack
from robnas.config.numbers import parse_eps

# Attacks that only query outputs; every other registered attack in a suite follows gradients.
BLACK_BOX = ("square", "onepixel")
# Composites mixing white- and black-box members: neither side of the comparison; their own
# cumulative accuracies are checked instead (the official AutoAttack's check_square_sr).
MIXED = ("autoattack",)
ZERO_GRADIENT_SHARE = 0.1          # flag when more than this share of gradients is zero or not finite
UNBOUNDED_ACCURACY = 0.05          # an eps = 1 Linf attack must leave at most this accuracy
PROBE_POINTS = 100


@dataclass(frozen=True)
class Flag:
    """One reliability warning: a stable ``name`` for programs and a sentence for people."""

    name: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _input_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        loss = F.cross_entropy(model(x), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, [x])
    return grad


def gradient_flag(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Flag | None:
    grad = _input_gradients(model, x, y).flatten(1)
    bad = ~torch.isfinite(grad).all(1) | (grad == 0).all(1)
    share = bad.float().mean().item()
    if share > ZERO_GRADIENT_SHARE:
        return Flag("zero_gradients", f"{100 * share:.0f}% of input gradients are zero or NaN: gradient-based "
                    "attacks cannot move these points (gradient masking); check with black-box attacks (square)")
    return None


def randomness_flag(model: nn.Module, x: torch.Tensor) -> Flag | None:
    with torch.no_grad():
        first, second = model(x), model(x)
    if not torch.allclose(first, second, rtol=0, atol=1e-6):
        return Flag("randomized_forward", "two eval-mode forward passes on the same input differ: the model is "
                    "randomised, so attack it with expectation over transformation (EOT) before trusting a number")
    return None


def output_flag(model: nn.Module, x: torch.Tensor) -> Flag | None:
    with torch.no_grad():
        out = model(x).double()
    if out.min() >= 0 and out.max() <= 1 and torch.allclose(out.sum(1), torch.ones_like(out[:, 0]), atol=1e-4):
        kind = "probabilities (non-negative rows summing to 1)"
    elif out.max() <= 0 and torch.allclose(out.logsumexp(1), torch.zeros_like(out[:, 0]), atol=1e-4):
        kind = "log-probabilities (rows whose logsumexp is 0)"
    else:
        return None
    return Flag("probability_outputs", f"the model outputs {kind}, not logits: the attacks' losses saturate; "
                "remove the final softmax so the model returns logits")


def unbounded_flag(model: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int) -> Flag | None:
    # Linf eps = 1 is the whole image box: any image is reachable, so accuracy must fall to ~0.
    # From the clean point (no random start): a random image in the whole box is already
    # misclassified by chance, which would hide a model whose gradients lead nowhere.
    attack = create_attack("pgd", eps=1.0, alpha=0.1, steps=20, random_start=False, seed=seed)
    accuracy = attack.run(model, x, y).robust_accuracy
    if accuracy > UNBOUNDED_ACCURACY:
        return Flag("unbounded_eps_not_zero", f"PGD with an unbounded radius (Linf eps = 1) leaves {100 * accuracy:.0f}% "
                    "accuracy instead of ~0%: the attacks are not working on this model, so its robust accuracies "
                    "are upper bounds at best")
    return None


def probe_flags(model: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> list[Flag]:
    """The model-probing flags on (at most ``PROBE_POINTS`` of) ``x, y``."""
    x, y = x[:PROBE_POINTS], y[:PROBE_POINTS]
    was_training = model.training
    model.eval()
    # fork_rng: a stochastic model must not consume the caller's random stream during the probes.
    try:
        with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
            found = [randomness_flag(model, x), output_flag(model, x), gradient_flag(model, x, y),
                     unbounded_flag(model, x, y, seed)]
    finally:
        model.train(was_training)
    return [flag for flag in found if flag is not None]


def _accuracy_by_eps(runs: dict[str, dict[str, Any]]) -> list[tuple[float, str, float]]:
    """(eps value, eps label, accuracy) sorted by eps."""
    return sorted((parse_eps(label), label, run["accuracy"]) for label, run in runs.items())


def result_flags(record: dict[str, Any], tolerance: float = 1.0) -> list[Flag]:
    """Flags read off a results record (accuracies in percent); ``tolerance`` is in percentage points."""
    attacks: dict[str, dict[str, dict[str, Any]]] = record.get("attacks", {})
    flags: list[Flag] = []
    for name, runs in attacks.items():
        series = _accuracy_by_eps(runs)
        for (eps_a, label_a, acc_a), (_, label_b, acc_b) in zip(series, series[1:]):
            if acc_b > acc_a + tolerance:
                flags.append(Flag("not_monotone_in_eps", f"{name}: accuracy rises from {acc_a:.2f}% at eps {label_a} "
                                  f"to {acc_b:.2f}% at eps {label_b}; a larger ball cannot be safer, so the attack "
                                  "is failing (try more steps or restarts)"))
                break
    for label, fgsm in attacks.get("fgsm", {}).items():
        pgd = attacks.get("pgd", {}).get(label)
        if pgd is not None and pgd["accuracy"] > fgsm["accuracy"] + tolerance:
            flags.append(Flag("pgd_weaker_than_fgsm", f"at eps {label} PGD leaves {pgd['accuracy']:.2f}% but one-step "
                              f"FGSM only {fgsm['accuracy']:.2f}%: iterations should not hurt; suspect gradient masking"))
    white = [name for name in attacks if name not in BLACK_BOX and name not in MIXED and name != "clean"]
    for black in (name for name in attacks if name in BLACK_BOX):
        for label, run in attacks[black].items():
            best_white = min((attacks[w][label]["accuracy"] for w in white if label in attacks[w]), default=None)
            if best_white is not None and run["accuracy"] + tolerance < best_white:
                flags.append(Flag("black_box_stronger", f"at eps {label} black-box {black} leaves {run['accuracy']:.2f}% "
                                  f"but the best white-box attack {best_white:.2f}%: gradients are masked, so the "
                                  "white-box numbers over-state robustness"))
    for name in (n for n in attacks if n in MIXED):
        for label, run in attacks[name].items():
            flags.extend(_composite_black_box_flag(name, label, run.get("cumulative", {}), tolerance))
    return flags


def _composite_black_box_flag(name: str, label: str, cumulative: dict[str, float], tolerance: float) -> list[Flag]:
    """A composite whose black-box members still break points its white-box members left robust."""
    white = [acc for member, acc in cumulative.items() if member not in BLACK_BOX]
    black = [acc for member, acc in cumulative.items() if member in BLACK_BOX]
    if not white or not black or min(black) + tolerance >= min(white):
        return []
    return [Flag("black_box_stronger", f"at eps {label} the black-box members of {name} lower its robust accuracy "
                 f"from {min(white):.2f}% (after the white-box members) to {min(black):.2f}%: gradients are masked, "
                 "so white-box numbers over-state robustness")]
