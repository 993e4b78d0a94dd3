"""The ``[search.differentiable]`` settings: the bilevel loop's optimisation budget and the terms' parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from robnas.search.differentiable.advrush import AdvRushParams
from robnas.search.differentiable.rnas import RNASParams


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
    advrush: AdvRushParams = field(default_factory=AdvRushParams)
    rnas: RNASParams = field(default_factory=RNASParams)
    derive_exclude: tuple[str, ...] = ()  # ops the derived cell may not use; ("none",) on nb201 derives as the
                                          # DARTS space does (NAS-Bench-201's own derivation keeps 'none')
    terms: tuple[str, ...] = ()       # registered search terms added to the method's own (plugins, experiments)
    term_params: dict[str, Any] = field(default_factory=dict)  # their parameters: { name = { key = value } }

    def params_of(self, term: str) -> Any:
        """The parameters of ``term``: its own section (advrush, rnas) or its entry of ``term_params``."""
        return getattr(self, term) if term in ("advrush", "rnas") else self.term_params.get(term, {})
