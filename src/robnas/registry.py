"""A small name -> factory registry in the style of timm's ``register_model``.

Models, attacks, datasets, search spaces and strategies each own one :class:`Registry`; every
registered entry is picked up automatically by the parametrised tests.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Generic, TypeVar

from robnas.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps lower-case names to factories; lookups of unknown names raise a one-line error."""

    def __init__(self, kind: str, listing: str | None = None) -> None:
        self.kind = kind
        self.listing = listing or f"{kind}s"  # the argument of `robnas list` that prints these names
        self._entries: dict[str, T] = {}

    def register(self, name: str | None = None) -> Callable[[T], T]:
        """Decorator: ``@REG.register()`` uses the function's name, ``@REG.register("x")`` names it."""

        def decorate(entry: T) -> T:
            key = (name or getattr(entry, "__name__")).lower()
            if key in self._entries:
                raise ValueError(f"{self.kind} {key!r} is registered twice")
            self._entries[key] = entry
            return entry

        return decorate

    def add(self, name: str, entry: T) -> None:
        """Register ``entry`` under ``name`` (for entries generated in a loop)."""
        self.register(name)(entry)

    def get(self, name: str) -> T:
        key = name.lower()
        if key not in self._entries:
            close = [n for n in self._entries if key in n or n in key][:5]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}{hint}; choose one of: {', '.join(self.names())}"
                f" (`robnas list {self.listing}` shows them)"
            )
        return self._entries[key]

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style pattern, sorted."""
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern.lower()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def __len__(self) -> int:
        return len(self._entries)
