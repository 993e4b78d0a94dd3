"""The interface every search space implements, its registry, and ``register_space``.

A space is one package (or one module) owning everything about its architectures. Search
strategies (random search, local search, regularised evolution, BANANAS, NSGA-II) and the results
database only ever see architectures as **strings** -- the NAS-Bench-201 arch string, the
published DARTS genotype text, the macro genome -- and everything else talks to the space through
this interface, reached with ``get_space(name)``:

* ``sample`` / ``mutate`` / ``neighbours`` move through the space (``random.Random`` in, so a seed
  reproduces a search); ``validate`` gives the normalised string, ``key`` the canonical key under
  which equivalent architectures share one evaluation; ``example`` is a fixed valid architecture;
* ``encode`` is the feature vector for predictors, ``to_vector`` / ``from_vector`` /
  ``vector_bounds`` the integer genome for pymoo;
* ``build`` makes the network of an architecture from the space's ``network`` factory, with the
  dataset normalisation and a ``spec`` naming the space (``robnas.models.model_from_spec``
  rebuilds it: the model registry knows every space's network);
* ``supernet`` makes the one-shot supernet of a differentiable search, for spaces that have one
  (``supernet_class``); the supernet's ``derive`` is the space's derivation rule;
* ``draw_cell`` draws an architecture (``cells.png``).

Adding a space: subclass :class:`SearchSpace`, set ``arch_kwarg`` and ``network`` (and
``supernet_class`` if it has a one-shot search), implement the abstract methods and register the
class with ``@register_space("name")``.
"""

from __future__ import annotations

import inspect
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch

from robnas.checks import positive_int
from robnas.errors import InvalidValueError, UnknownNameError
from robnas.nn import NetworkFactory, NormalizedClassifier, build_classifier, check_factory, factory_kwargs
from robnas.registry import Registry
from robnas.spaces.supernet import Supernet

#: How many random neighbours ``mutate`` tries before listing every neighbour's key.
_MUTATION_DRAWS = 32
#: Seed of the default ``example``: a fixed draw of ``sample``.
_EXAMPLE_SEED = 0


class SearchSpace(ABC):
    """A finite (or countable) set of architectures, each identified by its string form."""

    #: Registry name of the space (``nb201``, ``darts``, ``macro``), set by ``register_space``.
    name: ClassVar[str]
    #: The kwarg of ``network`` that carries the architecture string (``arch``, ``genotype``, ``genome``).
    arch_kwarg: ClassVar[str]
    #: The network factory ``f(num_classes, in_channels, <arch_kwarg>, **size) -> nn.Module``; its keyword
    #: parameters after the architecture are the size kwargs, with their defaults. A plain function
    #: assigned in the class body (``network = my_factory``); robnas reads it from the class, unbound.
    network: ClassVar[NetworkFactory]
    #: Kwargs of a very small network (few channels / cells), for fast tests.
    tiny_size: ClassVar[Mapping[str, Any]] = {}
    #: The supernet of the space's differentiable search, or ``None`` when it has none.
    supernet_class: ClassVar[type[Supernet] | None] = None

    # --- moving through the space --------------------------------------------------------------

    @abstractmethod
    def sample(self, rng: random.Random) -> str:
        """A uniformly random architecture (uniform over the string forms of the space)."""

    @abstractmethod
    def neighbours(self, arch: str) -> list[str]:
        """Every architecture one edit away, in a deterministic order, without duplicates."""

    def mutate(self, arch: str, rng: random.Random) -> str:
        """One random edit: a uniformly chosen neighbour with a different key when one exists.

        Rejection sampling keeps the choice uniform over the key-changing neighbours while
        usually computing only one or two keys.
        """
        options = self.neighbours(arch)
        if not options:
            raise InvalidValueError(f"{self.name} architecture {arch!r} has no neighbours to mutate to")
        parent = self.key(arch)
        for _ in range(_MUTATION_DRAWS):
            child = rng.choice(options)
            if self.key(child) != parent:
                return child
        changing = [n for n in options if self.key(n) != parent]
        return rng.choice(changing or options)

    # --- identity ------------------------------------------------------------------------------

    @abstractmethod
    def validate(self, arch: str) -> str:
        """The normalised string form, or :class:`robnas.errors.ParseError` naming problem and fix."""

    @abstractmethod
    def key(self, arch: str) -> str:
        """Canonical key: architectures that build the same network share it (the cache key)."""

    def size(self) -> int | None:
        """Number of string forms in the space when finite and known, else ``None``."""
        return None

    def example(self) -> str:
        """A fixed valid architecture, used to validate settings before a search has produced one."""
        return self.sample(random.Random(_EXAMPLE_SEED))


    # --- numeric views -------------------------------------------------------------------------

    @abstractmethod
    def encode(self, arch: str) -> np.ndarray:
        """A fixed-length float feature vector for performance predictors."""

    @abstractmethod
    def to_vector(self, arch: str) -> np.ndarray:
        """The integer genome (for pymoo); every vector within ``vector_bounds`` is valid."""

    @abstractmethod
    def from_vector(self, vec: Sequence[int] | np.ndarray) -> str:
        """The architecture of an integer genome (the inverse of ``to_vector`` up to ``key``)."""

    @abstractmethod
    def vector_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Inclusive integer lower and upper bounds of every gene."""

    def check_vector(self, vec: Sequence[int] | np.ndarray) -> np.ndarray:
        """``vec`` as an int64 array after checking its length, integrality and bounds."""
        low, high = self.vector_bounds()
        try:
            values = np.asarray(vec, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            raise InvalidValueError(f"{self.name} genome must be a list of integers, got {vec!r:.200}") from None
        if values.shape != low.shape:
            raise InvalidValueError(f"{self.name} genome has {values.size} genes, needs {low.size}")
        rounded = np.rint(values)
        # pymoo's integer repair hands over integral floats; anything else is a caller's bug.
        if not np.all(np.isfinite(values)) or not np.array_equal(rounded, values):
            raise InvalidValueError(f"{self.name} genome must hold integers, got {values.tolist()}")
        bad = np.flatnonzero((rounded < low) | (rounded > high))
        if bad.size:
            i = int(bad[0])
            raise InvalidValueError(f"{self.name} genome gene {i} is {int(rounded[i])}, outside its bounds "
                                    f"{int(low[i])}..{int(high[i])}")
        return rounded.astype(np.int64)

    # --- networks ------------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        """The model name in a built network's ``spec`` (the model registry builds spaces' networks by name)."""
        return self.name

    def model_kwargs(self) -> dict[str, Any]:
        """Network kwargs fixed by the space's own parameters (none by default)."""
        return {}

    def count_params(self, arch: str, *, num_classes: int, in_channels: int, **size: Any) -> int:
        """Parameters of ``arch``'s network (building it; spaces with a closed form override this)."""
        with torch.random.fork_rng(devices=[]):
            net = self.build(arch, num_classes=num_classes, in_channels=in_channels, **size)
        return sum(p.numel() for p in net.parameters())

    def build(self, arch: str, *, num_classes: int, in_channels: int, mean: Sequence[float] | None = None,
              std: Sequence[float] | None = None, **size: Any) -> NormalizedClassifier:
        """The network of ``arch`` (inputs in [0, 1], logits out, ``spec``); ``size`` are ``network`` kwargs."""
        return build_classifier(self.model_name, type(self).network, num_classes=num_classes,
                                in_channels=in_channels, mean=mean, std=std,
                                **{self.arch_kwarg: self.validate(arch)}, **{**self.model_kwargs(), **size})

    # --- differentiable search -----------------------------------------------------------------

    @property
    def has_supernet(self) -> bool:
        """Whether the space has a supernet (a one-shot, differentiable search)."""
        return self.supernet_class is not None

    def supernet(self, *, num_classes: int, in_channels: int, mean: Sequence[float] | None,
                 std: Sequence[float] | None, C: int, layers: int, partial_channels: int = 1) -> Supernet:
        """The supernet of the space's differentiable search, freshly initialised from torch's global RNG.

        ``C`` is the first cell width, ``layers`` the number of cells (per stage, in NAS-Bench-201's
        three-stage skeleton); ``partial_channels > 1`` makes PC-DARTS partial-channel edges.
        """
        cls = self.supernet_class
        if cls is None:
            raise UnknownNameError(f"search space {self.name!r} has no supernet for differentiable search; choose "
                                   f"one of: {', '.join(supernet_spaces())}")
        net = cls(num_classes=positive_int("supernet", "num_classes", num_classes),
                  in_channels=positive_int("supernet", "in_channels", in_channels), mean=mean, std=std,
                  C=positive_int("supernet", "C", C), layers=positive_int("supernet", "layers", layers),
                  partial_channels=partial_channels)
        net.space = self.name
        net.spec = {"space": self.name, "num_classes": num_classes, "in_channels": in_channels,
                    "mean": None if mean is None else [float(v) for v in mean],
                    "std": None if std is None else [float(v) for v in std],
                    "C": C, "layers": layers, "partial_channels": partial_channels}
        return net

    # --- drawing -------------------------------------------------------------------------------

    @abstractmethod
    def draw_cell(self, arch: str, path: str | Path) -> Path:
        """Draw ``arch`` (its cells, or what the space repeats) into the PNG ``path``; returns the path."""


SPACES: Registry[type[SearchSpace]] = Registry("search space", "spaces")

S = TypeVar("S", bound=type[SearchSpace])


def register_space(name: str) -> Callable[[S], S]:
    """Class decorator: register a :class:`SearchSpace` subclass as ``name`` (which it gets as ``cls.name``).

    The class's ``network`` must be a factory ``f(num_classes, in_channels, <arch_kwarg>, ...)``; a
    wrong one is a programming error (TypeError) found here rather than at the first build.
    """

    def decorate(cls: S) -> S:
        network = getattr(cls, "network", None)
        if network is None or not isinstance(getattr(cls, "arch_kwarg", None), str):
            raise TypeError(f"search space {cls.__name__} must set arch_kwarg and network")
        check_factory(network)
        if cls.arch_kwarg not in factory_kwargs(network):
            raise TypeError(f"network factory of search space {cls.__name__} has no {cls.arch_kwarg!r} parameter "
                            f"(its arch_kwarg)")
        return SPACES.register(name)(cls)

    return decorate


def get_space(name: str, **kw: Any) -> SearchSpace:
    """An instance of the registered space ``name``; ``kw`` are its parameters (e.g. ``n_nodes``)."""
    cls = SPACES.get(name)
    params = {p: v.default for p, v in inspect.signature(cls).parameters.items()}
    unknown = sorted(set(kw) - set(params))
    if unknown:
        accepted = ", ".join(f"{p}={d!r}" for p, d in params.items()) or "none"
        raise InvalidValueError(f"search space {name.lower()!r} does not accept {', '.join(unknown)}; "
                                f"its parameters are: {accepted}")
    return cls(**kw)


def list_spaces(pattern: str = "*") -> list[str]:
    """Registered search-space names matching a shell-style pattern."""
    return SPACES.names(pattern)


def supernet_spaces() -> list[str]:
    """Registered spaces with a supernet (those a differentiable search can use)."""
    return [name for name, cls in SPACES.items() if cls.supernet_class is not None]
