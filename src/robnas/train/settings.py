"""The ``[train]`` settings: the training recipe of one model (standard or PGD adversarial training).

Defaults follow DARTS' evaluation recipe (SGD, lr 0.025 cosine, momentum 0.9, weight decay 3e-4,
gradient clipping 5) with a laptop-sized budget; the adversarial sub-section is Madry et al.'s PGD
training or TRADES (Zhang et al. 2019).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from robnas.eps import Eps
from robnas.errors import InvalidValueError

SELECT_BEST = ("last", "clean", "robust")
ADVERSARIAL_METHODS = ("pgd", "trades")


@dataclass(frozen=True)
class AdversarialTrainingConfig:
    """Adversarial training: Madry et al.'s PGD (``pgd``) or Zhang et al.'s TRADES (``trades``)."""

    enabled: bool = False
    method: str = "pgd"              # pgd: train on PGD examples; trades: CE(clean) + beta * KL(adv || clean)
    eps: Eps = Eps.parse("8/255")
    alpha: Eps = Eps.parse("2/255")
    steps: int = 7
    random_start: bool = True        # pgd only (TRADES always starts at x + 0.001 * N(0, 1))
    beta: float = 6.0                # trades only: weight of the KL term (TRADES' CIFAR-10 value 1/lambda = 6)


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
    adv = cfg.adversarial
    if adv.method not in ADVERSARIAL_METHODS:
        raise InvalidValueError(f"train.adversarial.method must be one of {', '.join(ADVERSARIAL_METHODS)}, "
                                f"got {adv.method!r}")
    if not adv.beta >= 0:
        raise InvalidValueError(f"train.adversarial.beta (TRADES) must be >= 0, got {adv.beta}")
