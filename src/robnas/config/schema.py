"""The config dataclasses of the train, eval and run commands.

Defaults follow the papers where a paper fixes them (attack settings of Devaguptapu et al.,
DARTS training recipe); sizes default to what a 2-core laptop finishes quickly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from robnas.eps import Eps

_8_255 = Eps.parse("8/255")
_2_255 = Eps.parse("2/255")


@dataclass(frozen=True)
class DataConfig:
    name: str = "digits"
    root: str | None = None          # None: the dataset's default location
    train_size: int | None = None    # deterministic subsets; None = the whole split
    test_size: int | None = None
    val_size: int = 0                # held out of train for best-checkpoint selection (0: use the test split)


@dataclass(frozen=True)
class ModelConfig:
    name: str = "resnet18"
    kwargs: dict[str, Any] = field(default_factory=dict)
    label: str | None = None         # row label in reports; defaults to the name
    train: dict[str, Any] = field(default_factory=dict)  # per-model overrides of [train], e.g. { lr = 0.1 }


@dataclass(frozen=True)
class AdversarialTrainingConfig:
    """Madry et al. PGD adversarial training."""

    enabled: bool = False
    eps: Eps = _8_255
    alpha: Eps = _2_255
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


@dataclass(frozen=True)
class EvalConfig:
    """Attack suite. Defaults: Devaguptapu et al. (eps 8/255, step 2/255, 10 iterations, AutoPGD x10 restarts)."""

    attacks: tuple[str, ...] = ("fgsm", "ffgsm", "pgd", "apgd-ce")
    eps: tuple[Eps, ...] = (_8_255,)
    alpha_ratio: float = 0.25        # PGD/BIM step = alpha_ratio * eps (2/255 at 8/255, as in the paper)
    steps: int = 10
    apgd_steps: int = 100
    apgd_restarts: int = 10
    norm: str = "Linf"
    batch_size: int = 256
    hrs_attack: str = "pgd"          # the paper computes HRS from PGD accuracy
    baseline: str | None = None      # row label of the PP-HRS baseline model
    early_stop: bool = True          # AutoAttack semantics; false = full budget on every point
    protocol: str | None = None      # a named protocol (robnas list protocols) replaces the attack suite
    corruptions: tuple[str, ...] = ()  # common corruptions to report (["all"] = the 15 of CIFAR-10-C)
    reliability: bool = True         # probe the model and the results for signs of an unreliable evaluation


@dataclass(frozen=True)
class AdvRushConfig:
    """AdvRush's input-curvature regulariser (Mok et al. 2021, Eq. 10); paper values."""

    gamma: float = 0.01
    h: float = 1.5
    warmup_epochs: int | None = None  # None: the paper's share, round(50/60 * epochs)


@dataclass(frozen=True)
class RNASConfig:
    """RNAS: PGD examples in both steps and the network-vulnerability bound H (paper values)."""

    eps: Eps = _8_255
    alpha: Eps = _2_255
    steps: int = 7
    bound: float = 1e-4               # H
    warmup_epochs: int | None = None  # None: the paper's share, round(15/60 * epochs)
    projection_fraction: float = 0.2  # share of each epoch's iterations that only project (T-u)/T; not in the paper
    projection_iters: int = 10        # linearised projection iterations per projection step
    arch_objective: str = "clean+adv"  # Eq. 8 (L_val + L_val^adv); "adv" = Algorithm 1 line 5


@dataclass(frozen=True)
class DifferentiableSearchConfig:
    """One-shot search (DARTS, AdvRush, RNAS) over a supernet: see robnas.search.differentiable.

    Defaults are sized for the digits demo (about a minute on 2 CPU cores). The papers' CIFAR-10
    setting: C=16, layers=8 (NB201: C=16, layers=5 cells per stage), epochs 50 (DARTS) / 60 (AdvRush,
    RNAS), batch_size 64 (DARTS) / 32 (AdvRush) / 128 (RNAS, with lr=0.01 and arch_lr=6e-4),
    train_size=None (all 50k images, halved), partial_channels=4 for PC-DARTS.
    """

    epochs: int = 6
    C: int = 4
    layers: int = 3                   # DARTS: cells; NB201: cells per stage
    partial_channels: int = 1         # K of PC-DARTS (1 = off)
    order: int = 1                    # 1: first-order DARTS; 2: unrolled (second order)
    batch_size: int = 32
    train_size: int | None = 384      # stratified subset of the training split (None: all), split in half
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    arch_lr: float = 3e-4
    arch_betas: tuple[float, ...] = (0.5, 0.999)
    arch_weight_decay: float = 1e-3
    advrush: AdvRushConfig = field(default_factory=AdvRushConfig)
    rnas: RNASConfig = field(default_factory=RNASConfig)


@dataclass(frozen=True)
class DiscreteSearchConfig:
    """Black-box search (NSGA-II, RS, LS, RE, BANANAS) over a discrete space: see robnas.search.discrete.

    Candidates are trained with the run's [train] section (epochs, adversarial, ...) on the [data]
    subset and measured on its validation split (data.val_size > 0) or else the test split.
    """

    objectives: tuple[str, ...] = ("clean_error", "flops")
    evaluations: int = 20            # architectures to evaluate (cache hits included); 0 = until the strategy ends
    max_seconds: float = 0.0         # wall-time budget over all invocations (--resume included); 0 = none
    backend: str = "local"           # inprocess | local (process pool) | ray
    workers: int = 0                 # parallel evaluations; 0 = one per core (local) / every CPU (ray)
    address: str | None = None       # Ray cluster address (backend = "ray"); None starts a local instance
    db: str | None = None            # results database; None = <run dir>/results.db
    table: str | None = None         # benchmark table answering evaluations (tabular mode): dir, .csv or .json
    advset: str | None = None        # pre-generated adversarial set directory for the advset_error objective
    build: dict[str, Any] = field(default_factory=dict)       # network size kwargs, e.g. { C = 8, N = 1 }
    space_params: dict[str, Any] = field(default_factory=dict)  # get_space(name, **space_params)
    strategy: dict[str, Any] = field(default_factory=dict)    # strategy parameters, e.g. { population = 40 }
    eval_seed: int | None = None     # seed of candidate evaluations (None: the run's seed); part of the cache key
    top_k: int = 5                   # best.json: the k best architectures of a single objective


@dataclass(frozen=True)
class SearchConfig:
    """``robnas search``: which space and which method; the method's own settings in its sub-section."""

    space: str = "darts"             # darts | nb201 | macro
    method: str = "darts"            # darts | advrush | rnas (differentiable); nsga2 | rs | ls | re | bananas (discrete)
    differentiable: DifferentiableSearchConfig = field(default_factory=DifferentiableSearchConfig)
    discrete: DiscreteSearchConfig = field(default_factory=DiscreteSearchConfig)


@dataclass(frozen=True)
class SearchedModelConfig:
    """``robnas run``: when enabled, search first ([search]) and train the derived architecture as one more row."""

    enabled: bool = False
    label: str | None = None         # row label; default "searched (<method>)"
    kwargs: dict[str, Any] = field(default_factory=dict)  # network size of the derived cell, e.g. { C = 4, layers = 3 }
    train: dict[str, Any] = field(default_factory=dict)   # per-model overrides of [train], as in [[models]]


@dataclass(frozen=True)
class LandscapeConfig:
    """Input loss landscape (AdvRush Figure 3): ``robnas landscape``, and every model of ``robnas run`` when enabled."""

    enabled: bool = False            # robnas run: add each trained model's landscape to the report
    points: int = 100                # first test points the loss is averaged over
    eps_range: Eps = _8_255          # grid over [-eps_range, eps_range]^2
    resolution: int = 21             # grid points per axis (odd: the centre is the clean input)
    per_point: bool = False          # also store every point's own grid in the JSON


@dataclass(frozen=True)
class RunConfig:
    """Shared top level of every command's config file."""

    seed: int = 0
    device: str = "auto"
    out: str = "runs"                # parent of run directories
    name: str | None = None          # run directory name; default: command + timestamp
    quiet: bool = False
    threads: int = 0                 # CPU intra-op threads; 0 = auto (1 for small networks, see robnas.threads)
    data: DataConfig = field(default_factory=DataConfig)
    models: tuple[ModelConfig, ...] = (ModelConfig(),)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    searched: SearchedModelConfig = field(default_factory=SearchedModelConfig)
    landscape: LandscapeConfig = field(default_factory=LandscapeConfig)
