"""The attack registry: ``create_attack("pgd", eps=8/255, ...)``, ``list_attacks()`` and attack spellings.

A registered attack describes itself on its class (title, kind, norms, radius rules: see
:class:`robnas.attacks.base.Attack`); :func:`register_attack` refuses a class whose description is
incomplete, so protocols, reports and reliability checks can rely on it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from robnas.errors import InvalidValueError
from robnas.registry import Registry

if TYPE_CHECKING:
    from robnas.attacks.base import Attack

ATTACKS: Registry[type[Attack]] = Registry("attack")


def _check_description(name: str, cls: type[Attack]) -> None:
    from robnas.attacks.base import KINDS

    if not isinstance(cls.__dict__.get("title"), str) or not cls.__dict__["title"]:
        raise TypeError(f"attack {name!r} ({cls.__name__}) must declare its own report title: title = \"...\"")
    if cls.kind not in KINDS:
        raise TypeError(f"attack {name!r} ({cls.__name__}) must declare kind as one of {', '.join(KINDS)}")
    params = inspect.signature(cls.__init__).parameters
    unknown = sorted(set(cls.radius_rules) - set(params))
    if unknown:
        raise TypeError(f"attack {name!r}: radius_rules name {', '.join(unknown)}, which its constructor does not take")


def register_attack(name: str) -> Callable[[type[Attack]], type[Attack]]:
    """Class decorator: make an :class:`Attack` subclass available to :func:`create_attack` as ``name``."""
    register = ATTACKS.register(name)

    def decorate(cls: type[Attack]) -> type[Attack]:
        _check_description(name, cls)
        return register(cls)

    return decorate


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


def split_steps(spelling: str) -> tuple[str, int | None]:
    """``"pgd-100"`` -> ``("pgd", 100)``: an attack that takes ``steps``, with its iteration count (AdvRush
    reports PGD-20 and PGD-100 side by side); a registered name -> ``(name, None)``.

    Unknown names (``"fgsm-3"``: FGSM takes no ``steps``) raise the registry's one-line UnknownNameError.
    """
    base, dash, tail = spelling.rpartition("-")
    if (spelling not in ATTACKS and dash and base in ATTACKS and tail.isdigit() and int(tail) > 0
            and "steps" in attack_parameters(base)):
        return base.lower(), int(tail)
    return ATTACKS.get(spelling).name, None  # a registered name, or the registry's one-line UnknownNameError
