"""The interface every discrete search space implements, and the registry of spaces.

Search strategies (random search, local search, regularised evolution, BANANAS, NSGA-II) and the
results database only ever see architectures as **strings** -- the NAS-Bench-201 arch string, the
published DARTS genotype text, the macro genome -- and talk to the space through this interface:

* ``sample`` / ``mutate`` / ``neighbours`` move through the space (``random.Random`` in, so a seed
  reproduces a search);
* ``key`` is the canonical key under which equivalent architectures share one evaluation;
* ``encode`` is the feature vector for predictors, ``to_vector`` / ``from_vector`` /
  ``vector_bounds`` the integer genome for pymoo;
* ``build`` makes the network through the model registry, so its ``spec`` reloads it.
"""

from __future__ import annotations

import inspect
import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from torch import nn

from robnas.errors import InvalidValueError
from robnas.registry import Registry

#: How many random neighbours ``mutate`` tries before listing every neighbour's key.
_MUTATION_DRAWS = 32


class DiscreteSpace(ABC):
    """A finite (or countable) set of architectures, each identified by its string form."""

    #: Registry name of the space (``nb201``, ``darts``, ``macro``).
    name: ClassVar[str]
    #: The registered model that builds an architecture, and the kwarg that carries the string.
    model_name: ClassVar[str]
    arch_kwarg: ClassVar[str]

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

    def model_kwargs(self) -> dict[str, Any]:
        """Model kwargs fixed by the space's own parameters (none by default)."""
        return {}

    def build(self, arch: str, *, num_classes: int, in_channels: int, mean: Sequence[float] | None = None,
              std: Sequence[float] | None = None, **kw: Any) -> nn.Module:
        """The network of ``arch`` from the model registry (inputs in [0, 1], logits out, ``spec``)."""
        from robnas.models import create_model  # the models package imports the spaces: import late

        return create_model(self.model_name, num_classes=num_classes, in_channels=in_channels, mean=mean, std=std,
                            **{self.arch_kwarg: self.validate(arch)}, **{**self.model_kwargs(), **kw})

    def tiny_build_kwargs(self) -> dict[str, Any]:
        """Kwargs for a very small network (the model's registered ``tiny`` variant), for tests."""
        from robnas.models import MODELS

        tiny = dict(MODELS.get(self.model_name).tiny)
        tiny.pop(self.arch_kwarg, None)
        return tiny


SPACES: Registry[type[DiscreteSpace]] = Registry("search space", "spaces")


def get_space(name: str, **kw: Any) -> DiscreteSpace:
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
