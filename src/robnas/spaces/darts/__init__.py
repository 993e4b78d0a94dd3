"""The DARTS cell search space: genotypes, operations and the evaluation network."""

from robnas.spaces.darts.genotype import GENOTYPES, OPS_DARTS, Genotype, genotype_from, parse_genotype
from robnas.spaces.darts.network import DartsNetwork
from robnas.spaces.darts.ops import OPS

__all__ = ["GENOTYPES", "OPS", "OPS_DARTS", "DartsNetwork", "Genotype", "genotype_from", "parse_genotype"]
