"""The NAS-Bench-201 cell search space: arch strings, operations and the macro network."""

from robnas.spaces.nb201.arch import OPS_NB201, Arch, arch_to_str, parse_arch
from robnas.spaces.nb201.network import NB201Network
from robnas.spaces.nb201.ops import OPS

__all__ = ["OPS", "OPS_NB201", "Arch", "NB201Network", "arch_to_str", "parse_arch"]
