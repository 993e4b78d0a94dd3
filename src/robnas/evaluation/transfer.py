"""Transfer (black-box) evaluation: adversarial examples crafted on source models, scored on targets.

Table 2 of AdvRush: every source model crafts PGD-20 examples with its full budget (no early
stop: a transfer attack has no access to the target, so it cannot stop when the target breaks),
and every target's accuracy on them fills one cell; the diagonal is the white-box accuracy.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from robnas.attacks.base import Attack
from robnas.data import Split, iterate_batches
from robnas.rng import make_generator


def craft(model: nn.Module, attack: Attack, split: Split, batch_size: int) -> torch.Tensor:
    """Adversarial images (float, on the split's device) for every point of ``split``."""
    gen = make_generator(attack.seed, split.device)
    return torch.cat([attack(model, x, y, generator=gen) for x, y in iterate_batches(split, batch_size)])


@torch.no_grad()
def accuracy_on(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int) -> float:
    """Accuracy (percent) of ``model`` on float ``images``."""
    model.eval()
    correct = sum(int((model(images[i:i + batch_size]).argmax(1) == labels[i:i + batch_size]).sum())
                  for i in range(0, images.shape[0], batch_size))
    return 100.0 * correct / max(labels.numel(), 1)


def transfer_matrix(models: list[tuple[str, nn.Module]], split: Split, attack: Attack, batch_size: int = 256,
                    quiet: bool = False) -> dict[str, Any]:
    """``accuracy[i][j]``: target ``j``'s accuracy (%) on examples crafted on source ``i``."""
    labels = [label for label, _ in models]
    matrix: list[list[float]] = []
    for _, source in tqdm(models, desc="sources", disable=quiet, leave=False):
        adversarial = craft(source, attack, split, batch_size)
        matrix.append([accuracy_on(target, adversarial, split.labels, batch_size) for _, target in models])
    clean = [accuracy_on(model, split.float_images(), split.labels, batch_size) for _, model in models]
    return {"sources": labels, "targets": labels, "accuracy": matrix, "clean": clean, "n": len(split),
            "attack": {"name": attack.name, **{k: v for k, v in vars(attack).items() if not k.startswith("_")}}}
