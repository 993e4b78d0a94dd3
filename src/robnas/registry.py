"""One registry idiom for every kind of component, in the style of timm's ``register_model``.

Each kind (models, datasets, attacks, corruptions, protocols, spaces, strategies, differentiable
methods, search terms, objectives, backends, ...) owns one :class:`Registry`, created in the
module that defines the kind, and exposes a public decorator that registers under an explicit
name::

    @register_attack("pgd")
    class PGD(Attack): ...

A class registered this way gets its registry name as ``cls.name`` (written once, by the
registry), so the name never appears twice. Every registry is also entered in a catalog under its
listing (``robnas list attacks``), which is what the CLI and the parametrised contract tests walk;
the built-in kinds are found by importing their home module, so a listing is complete without
importing the whole package up front.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from robnas.errors import UnknownNameError

T = TypeVar("T")

# listing -> module whose import creates and fills the registry (the built-in kinds).
_HOMES: dict[str, str] = {
    "models": "robnas.models",
    "datasets": "robnas.data",
    "attacks": "robnas.attacks",
    "corruptions": "robnas.corruptions",
    "protocols": "robnas.evaluation.named_protocols",
    "spaces": "robnas.spaces",
    "strategies": "robnas.search.discrete",
    "methods": "robnas.search.differentiable",
    "terms": "robnas.search.differentiable",
    "objectives": "robnas.search.discrete.objectives",
    "recipes": "robnas.train.recipes",
    "configs": "robnas.config.shipped",
    "proxies": "robnas.proxies",
}
_CATALOG: dict[str, Registry] = {}


class Registry(Generic[T]):
    """Maps lower-case names to components; lookups of unknown names raise a one-line error."""

    def __init__(self, kind: str, listing: str | None = None,
                 order: Callable[[str], Any] | None = None) -> None:
        self.kind = kind
        self._order = order  # listing order (default: alphabetical)
        self.listing = listing or f"{kind}s"  # the argument of `robnas list` that prints these names
        self._entries: dict[str, T] = {}
        if self.listing in _CATALOG:
            raise ValueError(f"a registry of {self.listing} exists already")
        _CATALOG[self.listing] = self

    def register(self, name: str | None = None) -> Callable[[T], T]:
        """Decorator: ``@REG.register("x")`` registers under ``x`` (default: the entry's ``__name__``).

        A class gets ``cls.name = x``: the registry is the one place its name is written.
        """

        def decorate(entry: T) -> T:
            key = (name or getattr(entry, "__name__")).lower()
            if key in self._entries:
                raise ValueError(f"{self.kind} {key!r} is registered twice")
            if isinstance(entry, type):
                entry.name = key  # type: ignore[attr-defined]
            self._entries[key] = entry
            return entry

        return decorate

    def get(self, name: str) -> T:
        key = str(name).lower()
        if key not in self._entries:
            close = [n for n in self._entries if key in n or n in key][:5]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}{hint}; choose one of: {', '.join(self.names())}"
                f" (`robnas list {self.listing}` shows them)"
            )
        return self._entries[key]

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style pattern, in the registry's order (default: sorted)."""
        return sorted((n for n in self._entries if fnmatch.fnmatch(n, pattern.lower())), key=self._order)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(sorted(self._entries.items()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def __len__(self) -> int:
        return len(self._entries)


def registry(listing: str) -> Registry:
    """The registry behind ``robnas list <listing>`` (its home module is imported first)."""
    if listing in _HOMES:
        importlib.import_module(_HOMES[listing])
    if listing not in _CATALOG:
        raise UnknownNameError(f"unknown kind of component {listing!r}; choose one of: {', '.join(kinds())}")
    return _CATALOG[listing]


def kinds() -> list[str]:
    """Every listing: the built-in kinds and any kind a plugin created."""
    return sorted(set(_HOMES) | set(_CATALOG))
