"""The settings of the benchmark studies and of a cascade: the ``[bench.correlate]``, ``[bench.nas]``,
``[bench.design]`` and ``[bench.cascade]`` sections (``RunConfig.bench`` holds them), defined next to the
library that reads them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CorrelateConfig:
    """``robnas bench correlate``: Kendall's tau-b of proxies and clean accuracy against every measurement."""

    against: str | None = None       # a second benchmark (file or shipped name): the transfer tau on shared archs
    bootstrap: int = 200             # resamples of the architectures for the intervals (0 = none); 1000 costs 5x
    noise_draws: int = 20            # redraws of seeds and test points widening the intervals (0 = none)
    confidence: float = 0.95         # central interval of the bootstrap distribution
    top_percent: float = 10.0        # also restricted to the top k% architectures by clean accuracy (0 = not)
    proxies: tuple[str, ...] = ()    # proxy keys (proxy:<name>@init|trained) or names; () = all in the benchmark


@dataclass(frozen=True)
class NasConfig:
    """``robnas bench nas``: discrete strategies (and differentiable searches) judged on a benchmark."""

    objectives: tuple[str, ...] = ()  # minimised benchmark objectives, one table each; (): FGSM error at the
                                      # benchmark's reference radius, then clean_error (Jung et al.'s Table 1)
    second_objective: str = "clean_error"  # NSGA-II's second objective
    strategies: tuple[str, ...] = ("rs", "ls", "re", "bananas", "nsga2")
    runs: int = 100                  # seeded runs per strategy (Jung et al.: 100)
    queries: int = 100               # architectures looked up per run (Jung et al. do not state theirs)
    bootstrap: int = 1000            # resamples (runs, test points) of the comparison with random search
    confidence: float = 0.95         # its central interval
    strategy_params: dict[str, Any] = field(default_factory=dict)  # { bananas = { steps = 100 } }
    differentiable: tuple[str, ...] = ("darts", "advrush", "rnas")  # one-shot methods over the space's supernet
    differentiable_seeds: int = 3    # searches per method (0 = skip them)
    differentiable_search: dict[str, Any] = field(default_factory=dict)  # [search.differentiable] overrides


@dataclass(frozen=True)
class CascadeConfig:
    """``robnas bench cascade``: a stronger attack on the points an attack of the benchmark left standing."""

    after: str = ""                  # the benchmark's attack key whose survivors are attacked (e.g. pgd)
    attack: str = ""                 # the stronger attack (robnas list attacks)
    eps: str = ""                    # one radius of the after key's axis
    params: dict[str, Any] = field(default_factory=dict)  # the attack's parameters, e.g. { steps = 50 }


@dataclass(frozen=True)
class DesignConfig:
    """``robnas bench design``: accuracy against parameter count, operation frequencies, best per group."""

    decile: float = 10.0             # percent of architectures in the top and bottom groups
    top: int = 20                    # architectures drawn in the Fig. 5 layout
