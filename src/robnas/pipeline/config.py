"""The job config: one ``RunConfig`` for every command, composed of the sections its layers own.

The library sections are defined next to the code that reads them (``[data]`` in
:mod:`robnas.data.prepare`, ``[train]`` in :mod:`robnas.train.settings`, ``[eval]`` in
:mod:`robnas.evaluation.settings`, ``[search.differentiable]`` in
:mod:`robnas.search.differentiable.settings`, ``[ensemble]`` in :mod:`robnas.ensembles.settings`);
the sections only jobs read (models, searched, landscape, transfer, advset, bench, the discrete
search's settings) live here. Generic TOML loading and strict checking is :mod:`robnas.config`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from robnas.backends import ExecutionConfig
from robnas.bench.settings import CascadeConfig, CorrelateConfig, DesignConfig, NasConfig
from robnas.data.prepare import DataConfig
from robnas.ensembles.settings import EnsembleConfig
from robnas.eps import Eps
from robnas.errors import InvalidValueError
from robnas.evaluation.settings import EvalConfig
from robnas.search.differentiable.settings import DifferentiableSearchConfig
from robnas.train.settings import TrainConfig

_8_255 = Eps.parse("8/255")


@dataclass(frozen=True)
class ModelConfig:
    name: str = "resnet18"
    kwargs: dict[str, Any] = field(default_factory=dict)
    label: str | None = None         # row label in reports; defaults to the name
    train: dict[str, Any] = field(default_factory=dict)  # per-model overrides of [train], e.g. { lr = 0.1 }


@dataclass(frozen=True)
class DiscreteSearchConfig(ExecutionConfig):
    """Black-box search (NSGA-II, RS, LS, RE, BANANAS) over a discrete space: see robnas.search.discrete.

    Candidates are trained with the run's [train] section (epochs, adversarial, ...) on the [data]
    subset and measured on its validation split (data.val_size > 0) or else the test split.
    """

    objectives: tuple[str, ...] = ("clean_error", "flops")
    evaluations: int = 20            # architectures to evaluate (cache hits included); 0 = until the strategy ends
    max_seconds: float = 0.0         # wall-time budget over all invocations (--resume included); 0 = none
    db: str | None = None            # results database; None = <run dir>/results.db
    table: str | None = None         # tabular mode: a benchmark (file or shipped name) answers the objectives
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
class TransferConfig:
    """``robnas transfer``: the attack each source crafts with (AdvRush Table 2: PGD-20, full budget)."""

    attack: str = "pgd"
    steps: int = 20                  # iterations of an iterative source attack


@dataclass(frozen=True)
class AdvsetConfig:
    """``robnas advset build|eval``: a RoCo-NAS pre-generated adversarial set."""

    action: str = "eval"             # build: attack the sources into a new set; eval: score models on one
    path: str | None = None          # the set's directory (build: must not exist yet)
    thresholds: tuple[float, ...] = (1, 3, 5, 10)  # pixels for L0 attacks, 1/255 units for Linf


@dataclass(frozen=True)
class BenchConfig(ExecutionConfig):
    """``robnas bench ACTION ...``: build, inspect, import, export and study robustness benchmarks.

    The execution backend (backend, workers, address) serves build, proxies, correlate, nas and study."""

    action: str = "show"             # build | merge | show | import | export | reference | proxies | correlate | nas
                                     # | design | study
    targets: tuple[str, ...] = ()    # the action's positional arguments (benchmark file or name, archs, dirs)
    space: str = "nb201"             # build: the space (any space with a canonical key)
    recipe: str = "digits-tiny"      # build: a registered training recipe (robnas list recipes)
    recipe_overrides: dict[str, Any] = field(default_factory=dict)  # build: [train] keys replaced, recorded
    protocol: str = "jung-digits"    # build: a named protocol (robnas list protocols), or "eval": the [eval] suite
    sample: int = 0                  # build: architectures, stratified by parameter count (0 = the whole space)
    only: tuple[str, ...] = ()       # build: exactly these architectures (arch strings, keys or NB201 ids)
    shard: str = ""                  # build: "K/M" = every M-th architecture from the K-th (merge the M files)
    seeds: int = 1                   # build: replicates per architecture, each trained and evaluated with its own seed
    proxies: tuple[str, ...] = ()    # build, proxies: training-free proxies to store (robnas list proxies)
    at: tuple[str, ...] = ("init", "trained")  # when proxies are computed
    keep_weights: str | None = None  # build: directory keeping every trained network (for later proxies)
    layout: str = "robustness-dataset"  # import, export: the on-disk layout (import also reads nas-robbench-201)
    source_dataset: str | None = None   # import: which dataset folder (None: the only one there)
    reference_file: str | None = None   # reference: the published accuracies (None: the installed analog-nasbench
                                        # wheel's data file)
    ship_to: str | None = None          # ship: the directory (None: the package's shipped benchmarks)
    commit: str | None = None           # ship: the robnas commit that built the benchmark, for its record
    correlate: CorrelateConfig = field(default_factory=CorrelateConfig)
    nas: NasConfig = field(default_factory=NasConfig)
    design: DesignConfig = field(default_factory=DesignConfig)
    cascade: CascadeConfig = field(default_factory=CascadeConfig)


    def __post_init__(self) -> None:
        if isinstance(self.seeds, bool) or self.seeds < 1:
            raise InvalidValueError(f"bench.seeds must be >= 1 (replicates per architecture), got {self.seeds}")


@dataclass(frozen=True)
class RunConfig:
    """Shared top level of every command's config file."""

    seed: int = 0
    device: str = "auto"
    out: str = "runs"                # parent of run directories
    name: str | None = None          # run directory name; default: command + timestamp
    quiet: bool = False
    resume: bool = False             # continue the run `name` (the CLI's --resume); never written to config.toml
    threads: int = 0                 # CPU intra-op threads; 0 = auto (1 for small networks, see robnas.threads)
    data: DataConfig = field(default_factory=DataConfig)
    models: tuple[ModelConfig, ...] = ()    # registered networks to train / evaluate ([[models]] in a config file)
    checkpoints: tuple[str, ...] = ()  # trained models (.pt) to evaluate, attack or score, beside `models`
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    searched: SearchedModelConfig = field(default_factory=SearchedModelConfig)
    landscape: LandscapeConfig = field(default_factory=LandscapeConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    advset: AdvsetConfig = field(default_factory=AdvsetConfig)
    bench: BenchConfig = field(default_factory=BenchConfig)
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)

    def __post_init__(self) -> None:
        # Settings every job reads before it writes anything: checked when the config is resolved.
        from robnas.device import resolve_device
        from robnas.threads import choose_threads

        choose_threads(0, self.threads)
        resolve_device(self.device)


def written_config(cfg: RunConfig) -> dict[str, Any]:
    """The resolved config as it is written into a run directory (without the invocation's --resume)."""
    from robnas.config import config_to_dict

    data = config_to_dict(cfg)
    data.pop("resume")
    return data
