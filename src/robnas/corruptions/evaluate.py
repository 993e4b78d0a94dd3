"""Accuracy of a model under the common corruptions: per corruption and severity, and their means.

Each (corruption, severity) pair gets a fresh generator seeded with ``seed``, so its images do
not depend on which other corruptions are evaluated or in which order, and every model sees
the same corrupted images. The mean over corruptions of the per-corruption means (themselves
over severities) is the mean corruption accuracy (mCA), the figure CIFAR-10-C results report
(Jung et al. use it as "CF-10-C" accuracy).

Accuracies are percentages, as in the robustness-dataset records (``robnas.evaluation.record``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from robnas.corruptions.registry import SEVERITIES, CORRUPTIONS, check_severity, corrupt, list_corruptions
from robnas.data import Split, iterate_batches
from robnas.errors import InvalidValueError
from robnas.rng import make_generator


def _names(names: Iterable[str] | None) -> list[str]:
    if names is None:
        return list_corruptions()
    if isinstance(names, str):
        names = [names]
    chosen = [name.lower() for name in names]
    for name in chosen:
        CORRUPTIONS.get(name)  # UnknownNameError naming the valid choices
    if not chosen:
        raise InvalidValueError("evaluate_corruptions needs at least one corruption name (or names=None for all)")
    return chosen


@torch.no_grad()
def evaluate_corruptions(model: nn.Module, split: Split, names: Iterable[str] | None = None,
                         severities: Sequence[int] = SEVERITIES, seed: int = 0,
                         batch_size: int = 256, quantize: bool = False) -> dict[str, Any]:
    """``{"severities", "n", "per_corruption": {name: {"accuracy": [%], "confidence": [...], "mean": %}}, "mean"}``.

    ``accuracy`` and ``confidence`` (mean max-softmax probability) are lists over ``severities``;
    ``mean`` per corruption averages its accuracies, the top-level ``mean`` (mCA) averages those.
    The model runs in eval mode (its previous mode is restored) on batches of the split's device.
    ``quantize=True`` evaluates on the 8-bit values CIFAR-10-C stores (see :func:`corrupt`).
    """
    chosen = _names(names)
    levels = [check_severity(s) for s in severities]
    if not levels:
        raise InvalidValueError("evaluate_corruptions needs at least one severity in 1..5")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    n = len(split)
    was_training = model.training
    model.eval()
    try:
        per: dict[str, dict[str, Any]] = {}
        for name in chosen:
            accuracies, confidences = [], []
            for severity in levels:
                gen = make_generator(seed, split.device)
                correct = 0
                confidence = 0.0
                for images, labels in iterate_batches(split, batch_size):
                    logits = model(corrupt(name, images, severity, gen, quantize=quantize)).float()
                    correct += int((logits.argmax(dim=1) == labels).sum().item())
                    confidence += torch.softmax(logits, dim=1).amax(dim=1).sum().item()
                accuracies.append(100.0 * correct / max(n, 1))
                confidences.append(confidence / max(n, 1))
            per[name] = {"accuracy": accuracies, "confidence": confidences,
                         "mean": sum(accuracies) / len(accuracies)}
    finally:
        model.train(was_training)
    overall = sum(entry["mean"] for entry in per.values()) / len(per)
    return {"severities": levels, "n": n, "per_corruption": per, "mean": overall}
