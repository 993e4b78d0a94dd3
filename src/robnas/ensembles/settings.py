"""The settings of the random-cell ensemble experiment: the ``[ensemble]`` section and what it runs with.

:class:`EnsembleConfig` is the ``[ensemble]`` section of a run config (``RunConfig.ensemble``);
:class:`Experiment` bundles it with the ``[data]``, ``[train]`` and ``[eval]`` sections and the run's
seed, device and threads -- everything a worker needs to train or attack one network of the
experiment, as plain (picklable) settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from robnas.backends import ExecutionConfig
from robnas.data.prepare import DataConfig
from robnas.evaluation.settings import EvalConfig
from robnas.train.settings import TrainConfig


@dataclass(frozen=True)
class EnsembleConfig(ExecutionConfig):
    """``robnas ensemble``: Table 6 of Devaguptapu et al. -- random-cell ensembles next to single random
    cells and published cells, every network trained with the budget of one full network ([train])."""

    cells: tuple[int, ...] = (12, 6, 2)  # cells of each member; they must sum to total_cells
    total_cells: int = 20            # cells of one full network (the single random and published networks)
    runs: int = 4                    # sample-train-ensemble runs, and single random networks
    kwargs: dict[str, Any] = field(default_factory=dict)  # every network's size, e.g. { C = 36, auxiliary = true }
    hidden: int = 64                 # width of the combiner's two hidden linear layers (not given by the paper)
    combiner_epochs: int = 2         # the paper fine-tunes the combiner for two epochs, members frozen
    combiner_lr: float = 0.01
    single: bool = True              # also train `runs` single random networks of total_cells cells (RANDOM*)
    published: tuple[str, ...] = ("darts_v2", "pdarts", "pc_darts")  # published cells trained with total_cells
    enabled: bool = False            # robnas run: also run the experiment and add its table to the run's report


@dataclass(frozen=True)
class Experiment:
    """One random-cell ensemble experiment: its ``[ensemble]`` section, the data every network trains on, the
    training recipe of one full network (members and combiner derive theirs from it), the attack suite."""

    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    seed: int = 0                    # fixes the sampled cells, every network's initial weights and the attacks
    device: str = "auto"
    threads: int = 0                 # CPU threads per network (0: by its size, see robnas.threads)
