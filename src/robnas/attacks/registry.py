"""The attack registry: ``create_attack("pgd", eps=8/255, ...)`` and ``list_attacks()``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from robnas.errors import InvalidValueError
from robnas.registry import Registry

if TYPE_CHECKING:
    from robnas.attacks.base import Attack

ATTACKS: Registry[type[Attack]] = Registry("attack")


def register_attack(name: str) -> Callable[[type[Attack]], type[Attack]]:
    """Class decorator: make an :class:`Attack` subclass available to :func:`create_attack` as ``name``."""
    return ATTACKS.register(name)


def attack_parameters(name: str) -> list[str]:
    """The keyword parameters ``create_attack(name, ...)`` accepts."""
    signature = inspect.signature(ATTACKS.get(name).__init__)
    return [p for p in signature.parameters if p != "self"]


def create_attack(name: str, **params: Any) -> Attack:
    """A configured attack; unknown names raise UnknownNameError, unknown or bad parameters InvalidValueError."""
    cls = ATTACKS.get(name)
    valid = attack_parameters(name)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise InvalidValueError(f"attack {name!r} takes no parameter {', '.join(unknown)}; "
                                f"valid parameters: {', '.join(valid)}")
    return cls(**params)


def list_attacks(pattern: str = "*") -> list[str]:
    """Registered attack names matching a shell-style pattern, sorted."""
    return ATTACKS.names(pattern)
