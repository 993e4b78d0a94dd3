"""Architecture search spaces: one sub-package per space (``darts``, ``nb201``, ``macro``).

Each space owns its architecture type (parse / to-string / key), its moves and encodings, the
builder of the network an architecture describes, its supernet and derivation rule where it has a
differentiable search, and its cell drawing. :class:`SearchSpace` (in :mod:`robnas.spaces.base`) is
the interface; ``get_space(name, **kw)`` makes a registered one and ``@register_space("name")``
adds one.
"""

from robnas.spaces.base import SPACES, SearchSpace, get_space, list_spaces, register_space, supernet_spaces
from robnas.spaces.darts import space as _darts_space  # noqa: F401  (registers "darts")
from robnas.spaces.macro import space as _macro_space  # noqa: F401  (registers "macro")
from robnas.spaces.nb201 import space as _nb201_space  # noqa: F401  (registers "nb201")
from robnas.spaces.supernet import Supernet

__all__ = ["SPACES", "SearchSpace", "Supernet", "get_space", "list_spaces", "register_space", "supernet_spaces"]
