"""Evaluation protocols as data: threat models (an attack, a norm, radii, parameters) and the registry.

A :class:`ThreatModel` names a registered attack, its norm, its radii (exact :class:`Eps` values),
the parameters it gets at every radius and its result ``key``. The parameters that follow the
radius come from the attack class's own ``radius_rules`` (PGD: alpha = eps/4), which the threat
model may override (``rules``). A :class:`Protocol` is a tuple of threat models plus common
corruptions; ``mode="independent"`` means every threat model attacks the clean inputs on its own.

Named protocols are registered with :func:`register_protocol` (``robnas list protocols``; they live
in :mod:`robnas.evaluation.named_protocols`) and looked up with :func:`get_protocol`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from robnas.attacks import ATTACKS, create_attack, split_steps
from robnas.attacks.base import Attack
from robnas.corruptions import CORRUPTIONS, SEVERITIES
from robnas.eps import Eps
from robnas.errors import InvalidValueError, UnknownNameError
from robnas.registry import Registry, registry

# How the radii of a threat model relate: "independent" = each radius attacks the clean inputs on its own
# (comparable with the published robustness dataset); "nested" = a point broken at a radius is broken at
# every larger one with the same example, and only unbroken points are attacked there.
MODES = ("independent", "nested")


@dataclass(frozen=True)
class ThreatModel:
    """One attack in one norm at a tuple of radii; validated when built (names, norm, parameters)."""

    attack: str                                   # registered attack name
    norm: str = "Linf"
    radii: tuple[Eps, ...] = ()                   # strings and numbers are parsed (Eps.parse)
    params: Mapping[str, Any] = field(default_factory=dict)   # fixed parameters, at every radius
    key: str = ""                                 # result key; default: the attack name
    rules: Mapping[str, Fraction | float] = field(default_factory=dict)  # overrides of the class's radius_rules
    title: str = ""                               # report title; default: the attack class's title

    def __post_init__(self) -> None:
        cls = ATTACKS.get(self.attack)  # an unknown name is the registry's one-line error
        set_ = object.__setattr__      # frozen: normalise the fields once, here
        set_(self, "attack", cls.name)
        set_(self, "radii", tuple(Eps.parse(r) for r in self.radii))
        set_(self, "params", dict(self.params))
        set_(self, "rules", dict(self.rules))
        set_(self, "key", self.key or cls.name)
        set_(self, "title", self.title or cls.title)
        if cls.norms == ("L0",):
            raise InvalidValueError(f"attack {cls.name!r} is an L0 (pixel budget) attack and a protocol's radii are "
                                    "Linf/L2 radii; use it through `robnas advset build` or the Python API")
        if self.norm not in cls.norms:
            raise InvalidValueError(f"attack {cls.name!r} supports {' and '.join(cls.norms)}, not --norm {self.norm}; "
                                    "drop it or change the norm")
        if not self.radii:
            raise InvalidValueError(f"threat model {self.key!r} has no radius; give at least one, e.g. 8/255")
        if len(set(self.radii)) != len(self.radii):
            raise InvalidValueError(f"threat model {self.key!r} repeats a radius: {', '.join(map(str, self.radii))}")
        for eps in self.radii:  # bad parameters fail now, before any work (constructors only validate)
            self.create(eps, 0)

    @property
    def attack_class(self) -> type[Attack]:
        return ATTACKS.get(self.attack)

    def parameters(self, eps: Eps, seed: int) -> dict[str, Any]:
        """The attack's keyword arguments at radius ``eps``: the radius rules (param = ratio * eps), then the
        fixed parameters; the norm is passed to attacks that support several."""
        cls = self.attack_class
        params: dict[str, Any] = {"eps": float(eps), "seed": seed}
        if len(cls.norms) > 1:  # single-norm attacks (the FGSM family) take no norm parameter
            params["norm"] = self.norm
        if eps.value > 0:  # at eps 0 the ball is the clean point: a step derived from it would be 0 (refused)
            for name, ratio in {**cls.radius_rules, **self.rules}.items():
                params[name] = float(ratio) * float(eps)
        params.update(self.params)
        return params

    def create(self, eps: Eps, seed: int) -> Attack:
        """The configured attack at radius ``eps``, seeded with ``seed``."""
        return create_attack(self.attack, **self.parameters(eps, seed))


def threat_model(spelling: str, radii: tuple[Eps | str | float, ...], norm: str = "Linf",
                 rules: Mapping[str, Fraction | float] | None = None, **params: Any) -> ThreatModel:
    """A threat model from an attack spelling: ``"pgd-20"`` is PGD with ``steps=20`` (over any ``steps`` in
    ``params``), keyed and titled ``pgd-20`` / ``PGD-20``; any other registered name is itself."""
    name, steps = split_steps(spelling)
    title = "" if steps is None else f"{ATTACKS.get(name).title}-{steps}"
    if steps is not None:
        params = {**params, "steps": steps}
    return ThreatModel(name, norm, tuple(radii), params, key=spelling, rules=rules or {}, title=title)


@dataclass(frozen=True)
class Protocol:
    """Threat models and common corruptions evaluated together, under a name."""

    name: str
    threat_models: tuple[ThreatModel, ...]
    corruptions: tuple[str, ...] = ()
    severities: tuple[int, ...] = SEVERITIES
    description: str = ""
    mode: str = "independent"
    hrs: str | None = None            # key of the threat model HRS is computed from (Devaguptapu et al.)
    quantize: bool = False            # corrupted images on 8-bit levels, as CIFAR-10-C stores them
    certify: bool = False             # also prove points robust at every Linf radius (robnas.certify): a lower bound
    skip: tuple[tuple[str, int], ...] = ()  # (corruption, severity) left out: the same images as a lower severity

    def __post_init__(self) -> None:
        object.__setattr__(self, "threat_models", tuple(self.threat_models))
        object.__setattr__(self, "corruptions", tuple(self.corruptions))
        object.__setattr__(self, "severities", tuple(self.severities))
        keys = [t.key for t in self.threat_models]
        if len(set(keys)) != len(keys):
            raise InvalidValueError(f"protocol {self.name!r} repeats a threat-model key: {', '.join(keys)}")
        if self.mode not in MODES:
            raise InvalidValueError(f"protocol mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.hrs is not None and self.hrs not in keys:
            raise InvalidValueError(f"HRS attack {self.hrs!r} is not in the suite {keys}; add it to the attacks, or "
                                    "set eval.hrs_attack to one of them (auto: PGD, else the first; none: no HRS)")
        for name in self.corruptions:
            CORRUPTIONS.get(name)  # unknown names: the registry's one-line error
        bad = [s for s in self.severities if s not in SEVERITIES]
        if bad or not self.severities:
            raise InvalidValueError(f"corruption severities must be among {SEVERITIES}, got {self.severities}")
        object.__setattr__(self, "skip", tuple((str(n), int(v)) for n, v in self.skip))
        stray = [c for c in self.skip if c[0] not in self.corruptions or c[1] not in self.severities]
        if stray:
            raise InvalidValueError(f"protocol {self.name!r} skips conditions it does not have: {stray}")

    def conditions(self) -> dict[str, tuple[int, ...]]:
        """The severities evaluated for each corruption (the protocol's, minus the skipped duplicates)."""
        return {name: tuple(s for s in self.severities if (name, s) not in self.skip) for name in self.corruptions}

    def threat_model(self, key: str) -> ThreatModel:
        found = [t for t in self.threat_models if t.key == key]
        if not found:
            raise UnknownNameError(f"protocol {self.name!r} has no threat model {key!r}; its keys: "
                                   f"{', '.join(t.key for t in self.threat_models)}")
        return found[0]

    def with_corruptions(self, names: tuple[str, ...]) -> Protocol:
        return replace(self, corruptions=tuple(names))

    def to_dict(self) -> dict[str, Any]:
        """Everything that determines the protocol's numbers, as plain JSON data (benchmarks record it)."""
        return {"name": self.name, "mode": self.mode, "hrs": self.hrs, "quantize": self.quantize,
                "corruptions": list(self.corruptions), "severities": list(self.severities),
                "threat_models": [{"key": t.key, "attack": t.attack, "norm": t.norm,
                                   "radii": [e.label for e in t.radii], "params": dict(t.params),
                                   "rules": {k: str(v) for k, v in t.rules.items()}} for t in self.threat_models],
                "description": self.description,
                # only when on, so that benchmarks built before the options existed keep their identity
                **({"certify": True} if self.certify else {}),
                **({"skip": [list(c) for c in self.skip]} if self.skip else {})}


PROTOCOLS: Registry[Protocol] = Registry("protocol")


def register_protocol(protocol: Protocol) -> Protocol:
    """Make ``protocol`` available by its name (``--protocol NAME``, ``robnas list protocols``)."""
    return PROTOCOLS.register(protocol.name)(protocol)


def get_protocol(name: str) -> Protocol:
    """A named protocol; unknown names raise the registry's one-line UnknownNameError."""
    return registry("protocols").get(name)


def list_protocols(pattern: str = "*") -> list[str]:
    return registry("protocols").names(pattern)
