"""The DARTS cell search space: genotypes, operations, the evaluation network, the supernet and its derivation."""

from robnas.spaces.darts.genotype import GENOTYPES, OPS_DARTS, Genotype, genotype_from, parse_genotype
from robnas.spaces.darts.network import DartsNetwork
from robnas.spaces.darts.ops import OPS
from robnas.spaces.darts.supernet import DartsSupernet, derive_genotype

__all__ = ["GENOTYPES", "OPS", "OPS_DARTS", "DartsNetwork", "DartsSupernet", "Genotype", "derive_genotype",
           "genotype_from", "parse_genotype"]
