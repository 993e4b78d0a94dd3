"""Named training recipes: how every architecture of a benchmark is trained (``robnas list recipes``).

A recipe fixes the training settings (the ``[train]`` section), the network size (``build``, e.g.
``{"C": 8, "N": 1}`` for NAS-Bench-201 cells) and the data budget (training subset, evaluation
points), so that a benchmark's numbers can be reproduced from its name and recorded in full in
the benchmark file. A build may override single settings on top (``bench.recipe_overrides``, e.g.
``{train = {epochs = 2}, test_size = 50}``); the resolved recipe is what the benchmark records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from robnas.config import config_from_dict, config_to_dict, to_toml
from robnas.eps import Eps
from robnas.registry import Registry
from robnas.train.settings import AdversarialTrainingConfig, TrainConfig, check_train_config


@dataclass(frozen=True)
class Recipe:
    """A complete training procedure for the candidates of a space."""

    description: str
    train: TrainConfig
    build: dict[str, Any] = field(default_factory=dict)   # network size kwargs of the space's builder
    train_size: int | None = None                         # training points (stratified subset; None = all)
    test_size: int | None = None                          # evaluation points (None = the whole test split)
    resize: int | None = None                             # images shrunk to resize x resize pixels (None: as stored)

    def with_overrides(self, overrides: Mapping[str, Any]) -> "Recipe":
        """This recipe with some settings replaced; tables are merged key by key (``train.adversarial.eps``)."""
        merged = _merge(config_to_dict(self), overrides)
        recipe = config_from_dict(Recipe, merged, prefix="bench.recipe_overrides.")
        check_train_config(recipe.train)
        return recipe

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)

    def to_toml(self) -> str:
        """The recipe's full text, as recorded in a benchmark file."""
        return to_toml(self.to_dict())


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overrides.items():
        out[key] = _merge(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), dict) else value
    return out


RECIPES: Registry[Recipe] = Registry("training recipe", "recipes")


def register_recipe(name: str, recipe: Recipe) -> Recipe:
    return RECIPES.register(name)(recipe)


def get_recipe(name: str, overrides: Mapping[str, Any] | None = None) -> Recipe:
    return RECIPES.get(name).with_overrides(overrides or {})


def list_recipes(pattern: str = "*") -> list[str]:
    return RECIPES.names(pattern)


_NB201_TRAIN = TrainConfig(epochs=200, batch_size=256, lr=0.1, lr_min=0.0, momentum=0.9, nesterov=True,
                           weight_decay=5e-4, grad_clip=0.0, crop_padding=4, flip=True)
register_recipe("nb201", Recipe(
    "NAS-Bench-201's own training (Dong & Yang 2020), on which Jung et al.'s robustness dataset evaluates: "
    "C=16, N=5, 200 epochs, SGD nesterov lr 0.1 cosine, weight decay 5e-4, batch 256, crop + flip",
    _NB201_TRAIN, {"C": 16, "N": 5}))
register_recipe("pgd-at", Recipe(
    "Madry et al. PGD-7 adversarial training (eps 8/255, step 2/255) with NAS-Bench-201's budget and network "
    "size (the setting of adversarially trained NB201 benchmarks; robnas' own recipe, not a copy of theirs)",
    dataclasses.replace(_NB201_TRAIN, adversarial=AdversarialTrainingConfig(enabled=True)), {"C": 16, "N": 5}))

# The shipped digits benchmark: tiny networks trained briefly on a small subset, so that 6466
# architectures fit in hours on two cores and their clean accuracies spread over tens of points.
_DIGITS_TINY_TRAIN = TrainConfig(epochs=4, batch_size=64, lr=0.05, lr_min=0.0, weight_decay=3e-4, grad_clip=5.0)
register_recipe("digits-tiny", Recipe(
    "tiny NB201 networks on the embedded 8x8 digits: C=8, N=1, 4 epochs of SGD lr 0.05 cosine on 400 training "
    "points, evaluated on 100 test points",
    _DIGITS_TINY_TRAIN, {"C": 8, "N": 1}, train_size=400, test_size=100))
register_recipe("digits-tiny-pgd-at", Recipe(
    "digits-tiny with PGD-3 adversarial training at eps 8/255 (step 3/255)",
    dataclasses.replace(_DIGITS_TINY_TRAIN, adversarial=AdversarialTrainingConfig(
        enabled=True, eps=Eps.parse("8/255"), alpha=Eps.parse("3/255"), steps=3)), {"C": 8, "N": 1}, train_size=400, test_size=100))
