"""Per-epoch schedules: cosine learning rate and the DARTS linear drop-path ramp.

Computed from the epoch number rather than kept as scheduler objects, so a resumed run needs no
scheduler state to land on exactly the same values.
"""

from __future__ import annotations

import math


def cosine_lr(epoch: int, epochs: int, lr: float, lr_min: float = 0.0) -> float:
    """Cosine annealing from ``lr`` at epoch 0 towards ``lr_min`` at ``epochs``."""
    return lr_min + 0.5 * (lr - lr_min) * (1.0 + math.cos(math.pi * epoch / max(epochs, 1)))


def drop_path_prob(epoch: int, epochs: int, final: float) -> float:
    """DARTS raises drop-path linearly: ``final * epoch / epochs``."""
    return final * epoch / max(epochs, 1)
