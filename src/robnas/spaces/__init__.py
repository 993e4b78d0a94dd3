"""Architecture search spaces: one sub-package per space (``darts``, ``nb201``, ``macro``).

Each space owns its architecture type (parse / to-string), its operations and the builder of the
network that an architecture describes. :class:`DiscreteSpace` (in :mod:`robnas.spaces.base`) is
the interface search strategies use; ``get_space(name, **kw)`` makes a registered one.
"""

from robnas.spaces.base import SPACES, DiscreteSpace, get_space, list_spaces
from robnas.spaces.darts import space as _darts_space  # noqa: F401  (registers "darts")
from robnas.spaces.macro import space as _macro_space  # noqa: F401  (registers "macro")
from robnas.spaces.nb201 import space as _nb201_space  # noqa: F401  (registers "nb201")

__all__ = ["SPACES", "DiscreteSpace", "get_space", "list_spaces"]
