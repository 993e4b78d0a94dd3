"""Random-cell ensembles (Devaguptapu et al. 2021, section 4.4, Table 6) as ONE network.

Cells sampled from the DARTS space are stacked into small networks whose cell counts sum to the
budget of one full network (12 + 6 + 2 = 20 in the paper); each member is trained on its own, then
a small learned model combines the members' logits. The whole ensemble is one ``nn.Module``
(inputs in [0, 1], logits out, a ``spec``), so every attack differentiates through all members
end to end, as the paper attacks it ("entire ensemble is treated as one single-network").

* ``ensemble_member``: the DARTS evaluation network of one genotype with any number of cells >= 1.
  The published networks need 3 cells (two distinct reduction cells); a member of 2 cells has two
  reduction cells (cells 0 and 1, the official NetworkCIFAR's rule ``layers//3, 2*layers//3``) and
  one of 1 cell a single reduction cell, which is what the official code builds for such sizes.
* ``random_ensemble``: the members (built without their auxiliary heads, which only help training)
  and the combiner; ``load_member_weights`` copies trained members into it.

The combiner follows the paper's text: two linear layers, each followed by batch normalisation, then
a fully connected classifier, over the concatenated members' logits. Departures: the paper gives no
hidden width (``hidden``, default 64) and calls the model linear, so there is no activation between
the layers. (The authors' repository holds other ensembles -- children of one genotype averaged or
combined by a 1x1 convolution -- not this one.) The members are frozen: they stay in eval mode
(their batch-norm statistics never move) whatever mode the ensemble is put in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from robnas.errors import CheckpointError, InvalidValueError
from robnas.models.registry import register_model
from robnas.checks import flag, positive_int, probability
from robnas.spaces.darts import GENOTYPES, DartsNetwork, genotype_from

#: Width of the combiner's hidden layers (the paper does not give one).
DEFAULT_HIDDEN = 64
_TINY_GENOTYPES = [GENOTYPES["PDARTS"].to_str(), GENOTYPES["DARTS_V2"].to_str()]


def check_cells(cells: Sequence[int], total: int, where: str = "ensemble.cells") -> tuple[int, ...]:
    """The members' cell counts: positive integers summing to ``total`` (the budget of one full network)."""
    positive_int("ensemble", "total_cells (the cells of one full network)", total)
    values = tuple(cells)
    if not values or any(isinstance(c, bool) or not isinstance(c, int) for c in values):
        raise InvalidValueError(f"{where} must be a list of positive integers summing to {total}, e.g. "
                                f"--cells 12,6,2, got {list(values)!r}")
    if any(c <= 0 for c in values):
        raise InvalidValueError(f"{where} {','.join(map(str, values))} has a member of {min(values)} cells; every "
                                f"member needs at least one cell (counts summing to {total}, e.g. 12,6,2)")
    if sum(values) != total:
        raise InvalidValueError(f"{where} {','.join(map(str, values))} sums to {sum(values)}, not to the budget of "
                                f"{total} cells; give counts summing to {total} (or change the total)")
    return values


def member_network(num_classes: int, in_channels: int, genotype: str, layers: int, C: int = 36,
                   auxiliary: bool = False, drop_path_prob: float = 0.0) -> nn.Module:
    """DARTS network of ``genotype`` with ``layers`` >= 1 cells: one member of a random-cell ensemble."""
    return DartsNetwork(genotype_from(genotype), C=positive_int("model 'ensemble_member'", "C", C),
                        layers=positive_int("model 'ensemble_member'", "layers", layers), num_classes=num_classes,
                        in_channels=in_channels, auxiliary=flag("model 'ensemble_member'", "auxiliary", auxiliary),
                        drop_path_prob=probability("model 'ensemble_member'", "drop_path_prob", drop_path_prob))


class LinearCombiner(nn.Module):
    """Two linear layers with batch normalisation, then a classifier: the paper's combiner."""

    def __init__(self, inputs: int, hidden: int, num_classes: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(inputs, hidden), nn.BatchNorm1d(hidden),
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class RandomCellEnsemble(nn.Module):
    """Frozen members' logits, concatenated, through the combiner: one differentiable network."""

    def __init__(self, members: Sequence[nn.Module], combiner: nn.Module) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.combiner = combiner
        self.register_load_state_dict_pre_hook(_require_every_member)

    def train(self, mode: bool = True) -> "RandomCellEnsemble":
        super().train(mode)
        self.members.eval()  # frozen members: the combiner trains on their fixed (eval-mode) outputs
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.combiner(torch.cat([member(x) for member in self.members], dim=1))


def _require_every_member(module: nn.Module, state_dict: Mapping[str, Any], prefix: str, *args: Any) -> None:
    """A checkpoint of an ensemble must hold every member's weights: say which one is missing, in one line."""
    count = len(module.members)  # type: ignore[arg-type]
    for i in range(count):
        if not any(key.startswith(f"{prefix}members.{i}.") for key in state_dict):
            raise CheckpointError(f"the ensemble checkpoint has no weights for member {i + 1} of {count} "
                                  f"(keys {prefix}members.{i}.*); it is incomplete: rebuild it with "
                                  "`robnas ensemble --resume --name RUN` (finished members are not retrained)")


@register_model("random_ensemble", tiny={"genotypes": _TINY_GENOTYPES, "cells": [2, 1], "C": 4, "hidden": 8})
def random_ensemble(num_classes: int, in_channels: int, genotypes: Sequence[str], cells: Sequence[int],
                    C: int = 36, hidden: int = DEFAULT_HIDDEN) -> nn.Module:
    """Members of ``cells[i]`` cells of ``genotypes[i]`` combined by the paper's linear model."""
    if isinstance(genotypes, str) or not isinstance(genotypes, Sequence) or not genotypes:
        raise InvalidValueError(f"model 'random_ensemble': genotypes must be a non-empty list of genotype texts, "
                                f"got {genotypes!r:.120}")
    counts = check_cells(cells, sum(c for c in cells if isinstance(c, int)), where="model 'random_ensemble': cells")
    if len(counts) != len(genotypes):
        raise InvalidValueError(f"model 'random_ensemble' has {len(genotypes)} genotypes but {len(counts)} cell "
                                "counts; give one count per member")
    members = [member_network(num_classes, in_channels, g, layers, C) for g, layers in zip(genotypes, counts)]
    combiner = LinearCombiner(len(members) * num_classes, positive_int("model 'random_ensemble'", "hidden", hidden),
                              num_classes)
    return RandomCellEnsemble(members, combiner)


register_model("ensemble_member", tiny={"genotype": _TINY_GENOTYPES[0], "layers": 2, "C": 4})(member_network)


def load_member_weights(ensemble: nn.Module, member_states: Sequence[Mapping[str, torch.Tensor]]) -> None:
    """Copy trained members (state dicts of ``ensemble_member`` models) into a ``random_ensemble`` model.

    A member model is its normalisation and its network (``net.*``); the ensemble normalises once,
    so only the network's weights are copied, without the auxiliary head (a training aid).
    """
    inner = ensemble.net if hasattr(ensemble, "net") else ensemble
    if len(member_states) != len(inner.members):
        raise InvalidValueError(f"the ensemble has {len(inner.members)} members, got {len(member_states)} trained ones")
    for member, state in zip(inner.members, member_states):
        weights = {k[len("net."):]: v for k, v in state.items()
                   if k.startswith("net.") and not k.startswith("net.auxiliary_head.")}
        member.load_state_dict(weights)
