"""Registered networks from the NAS search spaces: published DARTS-space cells and NB201 cells.

``darts_v2``, ``pdarts``, ``advrush``, ... build the DARTS evaluation network of a published
genotype (defaults: the published CIFAR setting C=36, 20 cells); ``darts`` takes any genotype
text; ``nb201`` takes a NAS-Bench-201 arch string; ``macro`` takes an NSGA-Net / RoCo-NAS genome.
"""

from __future__ import annotations

from torch import nn

from robnas.errors import InvalidValueError
from robnas.models.checks import flag, positive_int, probability
from robnas.models.registry import ModelFactory, register_model
from robnas.spaces.darts import GENOTYPES, DartsNetwork, Genotype, genotype_from
from robnas.spaces.macro import MacroNetwork
from robnas.spaces.nb201 import NB201Network, parse_arch

# Two reduction cells at layers//3 and 2*layers//3 must be distinct cells.
MIN_DARTS_LAYERS = 3
_TINY_DARTS = dict(C=4, layers=3)


def _darts_network(name: str, genotype: Genotype | str, num_classes: int, in_channels: int, C: int,
                   layers: int, auxiliary: bool, drop_path_prob: float) -> DartsNetwork:
    if positive_int(name, "layers", layers) < MIN_DARTS_LAYERS:
        raise InvalidValueError(f"model {name!r}: layers must be >= {MIN_DARTS_LAYERS} (it has two reduction "
                                f"cells at layers//3 and 2*layers//3), got {layers}")
    return DartsNetwork(genotype_from(genotype), C=positive_int(name, "C", C), layers=layers,
                        num_classes=num_classes, in_channels=in_channels,
                        auxiliary=flag(name, "auxiliary", auxiliary),
                        drop_path_prob=probability(name, "drop_path_prob", drop_path_prob))


def _published_darts_factory(name: str, genotype: Genotype) -> ModelFactory:
    def factory(num_classes: int, in_channels: int, C: int = 36, layers: int = 20, auxiliary: bool = False,
                drop_path_prob: float = 0.0) -> nn.Module:
        return _darts_network(name, genotype, num_classes, in_channels, C, layers, auxiliary, drop_path_prob)

    factory.__name__ = name
    factory.__doc__ = f"DARTS evaluation network of the published {name.upper()} genotype."
    return factory


for _published_name, _genotype in GENOTYPES.items():
    register_model(_published_name.lower(), tiny=_TINY_DARTS)(
        _published_darts_factory(_published_name.lower(), _genotype))


@register_model(tiny=dict(genotype=GENOTYPES["PDARTS"].to_str(), **_TINY_DARTS))
def darts(num_classes: int, in_channels: int, genotype: Genotype | str, C: int = 36, layers: int = 20,
          auxiliary: bool = False, drop_path_prob: float = 0.0) -> nn.Module:
    """DARTS evaluation network of any genotype, given as its published text (or a Genotype)."""
    return _darts_network("darts", genotype, num_classes, in_channels, C, layers, auxiliary, drop_path_prob)


@register_model(tiny=dict(arch="|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+"
                               "|skip_connect~0|none~1|nor_conv_3x3~2|", C=4, N=1))
def nb201(num_classes: int, in_channels: int, arch: str, C: int = 16, N: int = 5) -> nn.Module:
    """NAS-Bench-201 macro network of an arch string (defaults: the benchmark's C=16, N=5)."""
    # Only the string form is accepted here: it is what the model spec stores and reloads.
    return NB201Network(parse_arch(arch), C=positive_int("nb201", "C", C), N=positive_int("nb201", "N", N),
                        num_classes=num_classes, in_channels=in_channels)


@register_model(tiny=dict(genome="1011010010000101-0000000000000001-1111111111111110", C=4))
def macro(num_classes: int, in_channels: int, genome: str, C: int = 32) -> nn.Module:
    """NSGA-Net / RoCo-NAS macro network of a genome string (default width C=32, RoCo-NAS' final training)."""
    return MacroNetwork(genome, C=positive_int("macro", "C", C), num_classes=num_classes, in_channels=in_channels)
