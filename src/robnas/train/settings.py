"""The ``[train]`` settings: the training recipe of one model (standard or PGD adversarial training).

Defaults follow DARTS' evaluation recipe (SGD, lr 0.025 cosine, momentum 0.9, weight decay 3e-4,
gradient clipping 5) with a laptop-sized budget; the adversarial sub-section is Madry et al.'s PGD
training.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from robnas.errors import InvalidValueError

SELECT_BEST = ("last", "clean", "robust")


@dataclass(frozen=True)
class AdversarialTrainingConfig:
    """Madry et al. PGD adversarial training."""

    enabled: bool = False
    eps: float = 8 / 255
    alpha: float = 2 / 255
    steps: int = 7
    random_start: bool = True


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 96
    lr: float = 0.025
    lr_min: float = 0.0
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 3e-4
    grad_clip: float = 5.0           # 0 disables clipping
    aux_weight: float = 0.4          # weight of the auxiliary-head loss (models built with auxiliary=True)
    drop_path: float = 0.0           # final drop-path probability; ramps linearly from 0 as in DARTS
    crop_padding: int = 0
    flip: bool = False
    cutout: int = 0
    label_smoothing: float = 0.0
    select_best: str = "last"        # last | clean | robust
    amp: bool = True                 # used on CUDA only
    channels_last: bool = True       # used on CUDA only
    adversarial: AdversarialTrainingConfig = field(default_factory=AdversarialTrainingConfig)


def check_train_config(cfg: TrainConfig) -> None:
    """One-line errors for a recipe that cannot run (checked before any run directory exists)."""
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise InvalidValueError(f"train.epochs and train.batch_size must be >= 1, got epochs={cfg.epochs}, "
                                f"batch_size={cfg.batch_size}")
    if not cfg.lr > 0:
        raise InvalidValueError(f"train.lr must be positive, got {cfg.lr}")
    if cfg.select_best not in SELECT_BEST:
        raise InvalidValueError(f"train.select_best must be one of {', '.join(SELECT_BEST)}, got {cfg.select_best!r}")
    if cfg.adversarial.enabled and cfg.adversarial.eps < 0:
        raise InvalidValueError("train.adversarial.eps must be >= 0; write it like 8/255")
