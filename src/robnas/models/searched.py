"""Registered networks from the NAS search spaces: published DARTS-space cells and every space's network.

``darts_v2``, ``pdarts``, ``advrush``, ... build the DARTS evaluation network of a published
genotype (defaults: the published CIFAR setting C=36, 20 cells). ``darts`` (any genotype text),
``nb201`` (a NAS-Bench-201 arch string) and ``macro`` (an NSGA-Net / RoCo-NAS genome) are the
networks of the search spaces of the same names, registered here from the spaces themselves (models
import spaces, never the reverse), so a network a space builds and the model of its ``spec`` are
made by the same factory.
"""

from __future__ import annotations

from torch import nn

from robnas.models.registry import ModelFactory, register_model
from robnas.spaces import get_space
from robnas.spaces.darts import GENOTYPES, Genotype
from robnas.spaces.darts.network import checked_darts_network

#: Architectures of the tiny variants of the space networks (for the registry's tests).
_TINY_ARCHS = {
    "darts": GENOTYPES["PDARTS"].to_str(),
    "nb201": "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
    "macro": "1011010010000101-0000000000000001-1111111111111110",
}


def _published_darts_factory(name: str, genotype: Genotype) -> ModelFactory:
    def factory(num_classes: int, in_channels: int, C: int = 36, layers: int = 20, auxiliary: bool = False,
                drop_path_prob: float = 0.0) -> nn.Module:
        return checked_darts_network(name, genotype, num_classes, in_channels, C, layers, auxiliary, drop_path_prob)

    factory.__name__ = name
    factory.__doc__ = f"DARTS evaluation network of the published {name.upper()} genotype."
    return factory


for _published_name, _genotype in GENOTYPES.items():
    register_model(_published_name.lower(), tiny=get_space("darts").tiny_size)(
        _published_darts_factory(_published_name.lower(), _genotype))

for _space_name, _tiny_arch in _TINY_ARCHS.items():
    _space = get_space(_space_name)
    register_model(_space_name, tiny={_space.arch_kwarg: _tiny_arch, **_space.tiny_size})(type(_space).network)
