"""The NSGA-Net / RoCo-NAS macro search space: bit-string genomes of phases of conv3x3-BN-ReLU nodes."""

from robnas.spaces.macro.cost import MacroCost, macro_cost
from robnas.spaces.macro.genome import decode_phase, format_genome, genome_key, parse_genome, phase_length
from robnas.spaces.macro.network import MacroNetwork

__all__ = ["MacroCost", "MacroNetwork", "decode_phase", "format_genome", "genome_key", "macro_cost",
           "parse_genome", "phase_length"]
