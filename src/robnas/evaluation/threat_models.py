"""Threat models as data, and the grid of the NAS-Bench-201 robustness dataset (Jung et al.).

A :class:`ThreatModel` names an attack, its norm, its epsilons (in 1/255 units, as the dataset
stores them) and its fixed parameters; its ``key`` (``"pgd@Linf"``) is the result key of the
robustness dataset. :func:`evaluate_threat_models` runs a list of them, plus optional common
corruptions, and returns, per key, the dataset's three measures: accuracy (percent), mean
confidence (mean max-softmax probability) and the confusion matrix, each a list over the
epsilons (or severities).

Jung et al. give FGSM 11 radii and PGD, APGD-CE and Square 7 (section 2.2); APGD keeps
AutoAttack's defaults (100 iterations, 1 restart) and Square its 5000 queries. The paper does not
state PGD's iterations or step; we use 10 steps of eps/4 (Devaguptapu et al.'s setting).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from robnas.attacks import create_attack
from robnas.attacks.evaluate import evaluate_attack
from robnas.data import Split, iterate_batches
from robnas.errors import UnknownNameError
from robnas.metrics import confusion_matrix, mean_confidence

FGSM_EPS_255 = (0.1, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 255)
OTHER_EPS_255 = (0.1, 0.5, 1, 2, 3, 4, 8)
SEVERITIES = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class ThreatModel:
    """One attack at a list of radii; ``key`` is the robustness dataset's result key."""

    attack: str
    norm: str
    eps_255: tuple[float, ...]
    params: dict[str, Any] = field(default_factory=dict)
    prefix: str = ""                 # "aa_" marks AutoAttack members in the dataset's keys

    @property
    def key(self) -> str:
        return f"{self.prefix}{self.attack}@{self.norm}"

    def attack_params(self, eps: float, seed: int) -> dict[str, Any]:
        params: dict[str, Any] = {"eps": eps, "seed": seed, **self.params}
        if self.attack == "pgd":
            params["alpha"] = eps / 4
        return params


PROTOCOLS: dict[str, tuple[ThreatModel, ...]] = {
    "jung": (
        ThreatModel("fgsm", "Linf", FGSM_EPS_255),
        ThreatModel("pgd", "Linf", OTHER_EPS_255, {"steps": 10, "norm": "Linf"}),
        ThreatModel("apgd-ce", "Linf", OTHER_EPS_255, {"steps": 100, "restarts": 1, "norm": "Linf"}, prefix="aa_"),
        ThreatModel("square", "Linf", OTHER_EPS_255, {"queries": 5000, "norm": "Linf", "rescale_schedule": False}, prefix="aa_"),
    ),
}


def protocol(name: str) -> tuple[ThreatModel, ...]:
    if name not in PROTOCOLS:
        raise UnknownNameError(f"unknown protocol {name!r}; known: {', '.join(sorted(PROTOCOLS))}")
    return PROTOCOLS[name]


def _measures(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> dict[str, Any]:
    correct = int((logits.argmax(1) == labels).sum().item())
    return {"accuracy": 100.0 * correct / max(labels.numel(), 1), "confidence": mean_confidence(logits),
            "cm": confusion_matrix(logits.argmax(1), labels, num_classes)}


def _append(into: dict[str, list[Any]], measures: dict[str, Any]) -> None:
    for name, value in measures.items():
        into.setdefault(name, []).append(value)


@torch.no_grad()
def _logits(model: nn.Module, split: Split, batch_size: int, transform: Any = None) -> torch.Tensor:
    parts = []
    for x, _ in iterate_batches(split, batch_size):
        parts.append(model(transform(x) if transform is not None else x))
    return torch.cat(parts)


def evaluate_threat_models(model: nn.Module, split: Split, threat_models: tuple[ThreatModel, ...],
                           num_classes: int, seed: int = 0, batch_size: int = 256,
                           corruptions: tuple[str, ...] = (), quiet: bool = False) -> dict[str, dict[str, Any]]:
    """``{"clean": measures, key: {measure: [value per eps]}, corruption: {measure: [value per severity]}}``."""
    model.eval()
    results: dict[str, dict[str, Any]] = {"clean": _measures(_logits(model, split, batch_size), split.labels,
                                                             num_classes)}
    jobs = [(tm, e) for tm in threat_models for e in tm.eps_255]
    for tm, eps_255 in tqdm(jobs, desc="threat models", disable=quiet, leave=False):
        attack = create_attack(tm.attack, **tm.attack_params(eps_255 / 255, seed))
        res = evaluate_attack(model, attack, split.images, split.labels, batch_size=batch_size)
        row = results.setdefault(tm.key, {})
        _append(row, {"accuracy": 100.0 * res.accuracy, "confidence": res.mean_confidence,
                      "cm": confusion_matrix(res.adv_pred, split.labels, num_classes)})
    if corruptions:
        from robnas.corruptions import corrupt
        from robnas.rng import make_generator

        for name in tqdm(corruptions, desc="corruptions", disable=quiet, leave=False):
            for severity in SEVERITIES:
                gen = make_generator(seed, split.device)  # the same corruption draw for every model

                def transform(x: torch.Tensor, name: str = name, severity: int = severity) -> torch.Tensor:
                    return corrupt(name, x, severity, gen)

                logits = _logits(model, split, batch_size, transform)
                _append(results.setdefault(name, {}), _measures(logits, split.labels, num_classes))
    return results
