"""Plain classification measures on logits: accuracy, mean confidence, confusion matrix."""

from __future__ import annotations

import torch


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows whose argmax equals the label (0..1)."""
    if labels.numel() == 0:
        return 0.0
    return (logits.argmax(dim=1) == labels).float().mean().item()


def mean_confidence(logits: torch.Tensor) -> float:
    """Mean of the maximum softmax probability (the robustness dataset's 'confidence' measure)."""
    if logits.shape[0] == 0:
        return 0.0
    return torch.softmax(logits.float(), dim=1).max(dim=1).values.mean().item()


def confusion_matrix(pred: torch.Tensor, labels: torch.Tensor, num_classes: int) -> list[list[int]]:
    """Counts ``cm[true][pred]`` as nested lists (JSON-ready)."""
    flat = labels.long().cpu() * num_classes + pred.long().cpu()
    counts = torch.bincount(flat, minlength=num_classes * num_classes)
    return counts.view(num_classes, num_classes).tolist()
