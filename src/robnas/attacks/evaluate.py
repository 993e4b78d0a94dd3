"""Robust accuracy of a model under one attack, over a whole dataset, in batches.

The metrics and CLI code call :func:`evaluate_attack` once per (attack, eps); it returns everything
a results table needs (accuracy, per-sample success, predictions at the adversarial points for a
confusion matrix, mean confidence, time and number of queries) without further forward passes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from robnas.attacks.autoattack import AutoAttackReport, AutoAttackResult
from robnas.attacks.base import Attack
from robnas.checks import positive_int
from robnas.errors import InvalidValueError
from robnas.rng import make_generator


@dataclass(frozen=True)
class AttackEvaluation:
    """Outcome of one attack on a dataset; ``accuracy`` is robust accuracy in [0, 1]
    (correct at the adversarial point, which implies correct when clean)."""

    accuracy: float
    success: torch.Tensor          # bool [N]: the model misclassifies the adversarial point
    adv_pred: torch.Tensor         # int64 [N]: the model's prediction there
    mean_confidence: float         # mean max softmax probability at the adversarial points
    seconds: float
    queries: int
    report: AutoAttackReport | None = None   # composites (AutoAttack): robust accuracy after each member
    confidences: torch.Tensor | None = None  # float [N]: max softmax probability at each adversarial point


def _model_device(model: nn.Module, fallback: torch.device) -> torch.device:
    param = next(model.parameters(), None)
    return fallback if param is None else param.device


def evaluate_attack(model: nn.Module, attack: Attack, images: torch.Tensor, labels: torch.Tensor,
                    batch_size: int = 256) -> AttackEvaluation:
    """Attack ``images`` (uint8 in 0..255 or float in [0, 1]) in batches of ``batch_size``.

    One random stream (seeded with the attack's seed) runs over all batches, so batches do not
    reuse the same noise. Result tensors are on the labels' device.
    """
    positive_int("evaluate_attack", "batch_size", batch_size)
    if images.shape[0] != labels.shape[0]:
        raise InvalidValueError(f"{images.shape[0]} images but {labels.shape[0]} labels; pass one label per image")
    device = _model_device(model, images.device)
    gen = make_generator(attack.seed, device)
    successes, predictions, confidences, broken_by = [], [], [], []
    members: tuple[str, ...] = ()
    queries = 0
    started = time.perf_counter()
    for start in range(0, images.shape[0], batch_size):
        x = images[start:start + batch_size].to(device)
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x
        result = attack.run(model, x, labels[start:start + batch_size].to(device), generator=gen)
        successes.append(result.success)
        predictions.append(result.logits.argmax(1))
        confidences.append(torch.softmax(result.logits.float(), dim=1).amax(1))
        queries += result.queries
        if isinstance(result, AutoAttackResult) and result.broken_by is not None:
            broken_by.append(result.broken_by)
            members = result.members
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    n = images.shape[0]
    success = torch.cat(successes).to(labels.device) if successes else torch.zeros(0, dtype=torch.bool)
    adv_pred = torch.cat(predictions).to(labels.device) if predictions else torch.zeros(0, dtype=torch.long)
    confidence = torch.cat(confidences).to(labels.device) if confidences else torch.zeros(0)
    return AttackEvaluation(
        accuracy=0.0 if n == 0 else 1.0 - success.float().mean().item(),
        success=success,
        adv_pred=adv_pred,
        mean_confidence=0.0 if n == 0 else confidence.sum().item() / n,
        seconds=seconds,
        queries=queries,
        report=AutoAttackReport.from_broken_by(members, torch.cat(broken_by).to(labels.device)) if broken_by else None,
        confidences=confidence,
    )
