"""The NAS-Bench-201 cell search space: arch strings, ids, operations, the macro network and the supernet.

``arch_str(index)``, ``index_of(arch)``, ``unique_key(arch)`` and ``representative(index)`` are the
NAS-Bench-201 id interface (aliases of :mod:`robnas.spaces.nb201.index`).
"""

from robnas.spaces.nb201.arch import OPS_NB201, Arch, arch_to_str, parse_arch
from robnas.spaces.nb201.index import arch_of as arch_str
from robnas.spaces.nb201.index import canonical_key as unique_key
from robnas.spaces.nb201.index import index_of
from robnas.spaces.nb201.index import representative_of as representative
from robnas.spaces.nb201.network import NB201Network
from robnas.spaces.nb201.ops import OPS
from robnas.spaces.nb201.supernet import NB201Supernet, derive_arch

__all__ = ["OPS", "OPS_NB201", "Arch", "NB201Network", "NB201Supernet", "arch_str", "arch_to_str", "derive_arch",
           "index_of", "parse_arch", "representative", "unique_key"]
