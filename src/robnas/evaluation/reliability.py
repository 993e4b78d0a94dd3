"""Reliability flags: signs that a robustness evaluation itself cannot be trusted.

A high robust accuracy is only meaningful if the attacks could have found adversarial points.
Following the checklist of Carlini et al. ("On evaluating adversarial robustness", 2019) and the
gradient-masking symptoms of Athalye et al. (2018), every evaluation raises a flag when

* many input gradients are zero or not finite (the attacks had nothing to follow);
* iterative PGD is weaker than single-step FGSM (iterations should never hurt; any attack declaring
  ``refines``);
* a black-box attack beats the white-box ones of its norm (white-box gradients are masked), also inside
  a composite such as AutoAttack (its Square member breaks points the gradient members left robust);
* accuracy is not monotone in eps (a larger ball contains the smaller one);
* an unbounded radius does not drive accuracy to ~0 (the attack is broken, not the model robust);
* the forward pass is randomised (a single attack run under-estimates what an adversary achieves);
* the outputs look like probabilities rather than logits (softmax saturation hides gradients).

The first, and the last three, are probes of the model on a small batch; the other three read the
:class:`robnas.evaluation.record.EvaluationRecord` and the attack classes' self-description
(``kind``: white-box, black-box or composite; ``refines``: PGD refines FGSM).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from robnas.attacks import ATTACKS, create_attack
from robnas.eps import Eps
from robnas.evaluation.record import EvaluationRecord, Flag, ThreatModelResult

ZERO_GRADIENT_SHARE = 0.1          # flag when more than this share of gradients is zero or not finite
UNBOUNDED_ACCURACY = 0.05          # an eps = 1 Linf attack must leave at most this accuracy
PROBE_POINTS = 100


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
                    "randomised, so attack it with expectation over transformation (EOT) before trusting a number: "
                    "--attacks autoattack-rand (AutoAttack's rand version: APGD-CE and APGD-DLR, 20-pass EOT)")
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


def _series(result: ThreatModelResult) -> list[tuple[Eps, float]]:
    """(radius, accuracy) sorted by radius."""
    return sorted((eps, m.accuracy) for eps, m in result.by_eps.items())


def _kind(result: ThreatModelResult) -> str:
    return ATTACKS.get(result.attack).kind


def monotone_flags(record: EvaluationRecord, tolerance: float) -> list[Flag]:
    """A threat model whose accuracy rises with the radius (a larger ball cannot be safer)."""
    flags = []
    for key, result in record.threat_models.items():
        series = _series(result)
        for (eps_a, acc_a), (eps_b, acc_b) in zip(series, series[1:]):
            if acc_b > acc_a + tolerance:
                flags.append(Flag("not_monotone_in_eps", f"{key}: accuracy rises from {acc_a:.2f}% at eps {eps_a} "
                                  f"to {acc_b:.2f}% at eps {eps_b}; a larger ball cannot be safer, so the attack "
                                  "is failing (try more steps or restarts)"))
                break
    return flags


def refinement_flags(record: EvaluationRecord, tolerance: float) -> list[Flag]:
    """An iterative attack weaker than a single-step attack it refines (``Attack.refines``: PGD and FGSM)."""
    flags = []
    results = list(record.threat_models.values())
    for iterative in results:
        refined = ATTACKS.get(iterative.attack).refines
        for single in (r for r in results if r.attack in refined and r.norm == iterative.norm):
            for eps, one_step in single.by_eps.items():
                many = iterative.by_eps.get(eps)
                if many is not None and many.accuracy > one_step.accuracy + tolerance:
                    flags.append(Flag(f"{iterative.attack}_weaker_than_{single.attack}",
                                      f"at eps {eps} {iterative.title} leaves {many.accuracy:.2f}% but one-step "
                                      f"{single.title} only {one_step.accuracy:.2f}%: iterations should not hurt; "
                                      "suspect gradient masking"))
    return flags


def black_box_flags(record: EvaluationRecord, tolerance: float) -> list[Flag]:
    """A black-box threat model stronger than every white-box one of its norm at some radius."""
    flags = []
    results = list(record.threat_models.values())
    for black in (r for r in results if _kind(r) == "black-box"):
        white = [r for r in results if _kind(r) == "white-box" and r.norm == black.norm]
        for eps, run in black.by_eps.items():
            best_white = min((w.by_eps[eps].accuracy for w in white if eps in w.by_eps), default=None)
            if best_white is not None and run.accuracy + tolerance < best_white:
                flags.append(Flag("black_box_stronger", f"at eps {eps} black-box {black.key} leaves {run.accuracy:.2f}% "
                                  f"but the best white-box attack {best_white:.2f}%: gradients are masked, so the "
                                  "white-box numbers over-state robustness"))
    return flags


def composite_flags(record: EvaluationRecord, tolerance: float) -> list[Flag]:
    """A composite whose black-box members still break points its white-box members left robust
    (the official AutoAttack's check_square_sr)."""
    flags = []
    for key, result in record.threat_models.items():
        if _kind(result) != "composite":
            continue
        for eps, run in result.by_eps.items():
            cumulative = run.cumulative or {}
            white = [acc for member, acc in cumulative.items() if ATTACKS.get(member).kind != "black-box"]
            black = [acc for member, acc in cumulative.items() if ATTACKS.get(member).kind == "black-box"]
            if white and black and min(black) + tolerance < min(white):
                flags.append(Flag("black_box_stronger", f"at eps {eps} the black-box members of {key} lower its "
                                  f"robust accuracy from {min(white):.2f}% (after the white-box members) to "
                                  f"{min(black):.2f}%: gradients are masked, so white-box numbers over-state robustness"))
    return flags


def result_flags(record: EvaluationRecord, tolerance: float = 1.0) -> list[Flag]:
    """Flags read off an evaluation record (accuracies in percent); ``tolerance`` is in percentage points.

    Which attack is black-box, a composite, or refines another comes from the attack classes (``kind``,
    ``refines``), never from a list of names here.
    """
    return (monotone_flags(record, tolerance) + refinement_flags(record, tolerance)
            + black_box_flags(record, tolerance) + composite_flags(record, tolerance))
