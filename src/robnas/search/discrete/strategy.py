"""The ask/tell contract every discrete search strategy implements, and the strategy registry.

A strategy is a pure object (the pymoo / NNI pattern): ``ask()`` returns the next batch of
architecture strings to evaluate, ``tell(arch, metrics)`` hands back each result. It never runs
an evaluation itself, so the same strategy works with any evaluator and execution backend.

Guarantees the runner relies on:

* **Deterministic.** All randomness comes from private generators seeded by ``seed`` (a
  ``random.Random`` here, numpy / torch generators derived from it in subclasses); given the same
  seed and the same sequence of tells, a strategy asks the same architectures. Resuming after
  ``kill -9`` is therefore "re-create and replay": the results database answers the completed ones.
* **Never asks a key twice.** Architectures are deduplicated by ``space.key``; an architecture
  equivalent to one already asked is never proposed again. A finite space that is exhausted makes
  ``finished`` true.
* **Batches.** ``ask()`` may return several architectures (a population); every one of them must
  be told before the next ``ask()``. Within a batch the order of tells does not matter.
* **Minimisation.** Every objective is minimised; single-objective strategies minimise
  ``objectives[0]``. A failed evaluation is told with a non-finite value (NaN or inf): it ranks last.

Subclasses write the search as a generator, :meth:`Strategy._search`: it ``yield``\\ s a batch of
new architectures and receives, for each, the tuple of its objective values. The generator's local
variables are the strategy's state, which keeps local search or regularised evolution as short as
their pseudocode.
"""

from __future__ import annotations

import itertools
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from robnas.checks import positive_int
from robnas.errors import InvalidValueError
from robnas.registry import Registry
from robnas.search.discrete.pareto import front_indices
from robnas.spaces.base import SearchSpace

#: What a strategy's search generator yields (a batch of archs) and receives (their objective values).
Values = tuple[float, ...]
Search = Generator[list[str], list[Values], None]

#: Consecutive random draws that found only known keys before the space is enumerated (small
#: genomes) or declared exhausted (large ones).
_SAMPLE_PATIENCE = 200
#: Genome spaces up to this many vectors are enumerated once sampling stalls, so exhaustion is exact.
_ENUMERATION_LIMIT = 200_000
#: Random draws a space too large to enumerate gets before it is declared exhausted.
_LARGE_SPACE_PATIENCE = 10_000


# --- parameters ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Param:
    """One strategy parameter: its default and a checker that returns the normalised value."""

    default: Any
    check: Callable[[str, Any], Any]
    help: str = ""


def count(name: str, value: Any) -> int:
    """A count parameter, by the one rule for counts; a string of digits (a command-line value) is its number."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return positive_int("strategy parameter", name, value)


def non_negative_float(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidValueError(f"strategy parameter {name} must be a number >= 0, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(number) or number < 0:
        raise InvalidValueError(f"strategy parameter {name} must be a number >= 0, got {value!r}")
    return number


def positive_float(name: str, value: Any) -> float:
    number = non_negative_float(name, value)
    if number == 0:
        raise InvalidValueError(f"strategy parameter {name} must be a number > 0, got {value!r}")
    return number


def probability(name: str, value: Any) -> float:
    number = non_negative_float(name, value)
    if number > 1:
        raise InvalidValueError(f"strategy parameter {name} must be a probability in [0, 1], got {value!r}")
    return number


def boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise InvalidValueError(f"strategy parameter {name} must be true or false, got {value!r}")


def one_of(*options: str) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        text = str(value).strip().lower()
        if text not in options:
            raise InvalidValueError(f"strategy parameter {name} must be one of {', '.join(options)}, got {value!r}")
        return text

    return check


# --- the contract -------------------------------------------------------------------------------

class Strategy(ABC):
    """Base of every discrete strategy: bookkeeping, deduplication and parameter checking."""

    #: Registry name (``rs``, ``ls``, ``re``, ``bananas``, ``nsga2``).
    name: ClassVar[str]
    #: The strategy's parameters; ``create_strategy`` rejects any other name.
    params_spec: ClassVar[dict[str, Param]] = {}
    #: Whether ``best()`` is the Pareto set (multi-objective strategies with >= 2 objectives).
    multi_objective: ClassVar[bool] = False

    def __init__(self, space: SearchSpace, objectives: Sequence[str] | str, seed: int, **params: Any) -> None:
        if not isinstance(space, SearchSpace):
            raise InvalidValueError(f"strategy {self.name!r} needs a SearchSpace (robnas.spaces.get_space), "
                                    f"got {type(space).__name__}")
        self.space = space
        self.objectives = _check_objectives(objectives)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise InvalidValueError(f"strategy seed must be an integer >= 0, got {seed!r}")
        self.seed = int(seed)
        self.params = self._check_params(params)
        self._check_objective_count(len(self.objectives))
        # The one source of randomness; subclasses derive numpy / torch generators from it.
        self.rng = random.Random(self.seed)
        self._asked: dict[str, str] = {}          # key -> arch, every architecture ever asked
        self._values: dict[str, Values] = {}      # key -> objective values, every one told
        self._pending: dict[str, str] = {}        # key -> arch of the batch being evaluated
        self._batch: list[str] = []               # keys of that batch, in ask order
        self._history: list[tuple[str, dict[str, float]]] = []
        self._history_keys: list[str] = []
        self._search_gen: Search | None = None
        self._next: list[str] | None = None       # the batch the next ask() returns
        self._done = False
        self._enumerated: dict[str, str] | None = None

    # --- to be written by subclasses ------------------------------------------------------------

    @abstractmethod
    def _search(self) -> Search:
        """The search as a generator: yield batches of new archs, receive their objective values."""

    def _check_objective_count(self, count: int) -> None:
        """Refuse objective counts the strategy cannot handle (a one-line InvalidValueError)."""

    # --- the public contract --------------------------------------------------------------------

    def ask(self) -> list[str]:
        """The next batch of architectures to evaluate (empty once ``finished``)."""
        if self._pending:
            raise RuntimeError(f"strategy {self.name}: tell the results of all {len(self._pending)} pending "
                               "architectures before asking again")
        self._start()
        if self._next is None:
            return []
        batch, self._next = self._next, None
        keys = [self.space.key(arch) for arch in batch]
        repeated = [a for a, k in zip(batch, keys) if k in self._asked]
        if repeated or len(set(keys)) != len(keys):
            raise RuntimeError(f"strategy {self.name} proposed an already asked architecture {repeated[:1]} (a bug)")
        for arch, key in zip(batch, keys):
            self._asked[key] = arch
            self._pending[key] = arch
        self._batch = keys
        return list(batch)

    def tell(self, arch: str, metrics: Mapping[str, float]) -> None:
        """The result of one asked architecture; ``metrics`` holds every objective (and maybe more)."""
        key = self.space.key(arch)
        if key not in self._pending:
            state = "was already told" if key in self._values else "was never asked"
            raise InvalidValueError(f"strategy {self.name}: architecture {arch!r:.120} {state}; tell only "
                                    "architectures returned by the last ask()")
        values = self._objective_values(arch, metrics)
        asked_arch = self._pending.pop(key)
        self._values[key] = values
        self._history.append((asked_arch, dict(metrics)))
        self._history_keys.append(key)
        if not self._pending:
            results = [self._values[k] for k in self._batch]
            self._batch = []
            self._advance(results)

    def best(self) -> list[tuple[str, dict[str, float]]]:
        """Single-objective: every evaluated arch, best first. Multi-objective: the Pareto set."""
        if not self._history:
            return []
        values = np.array([self._values[k] for k in self._history_keys], dtype=float)
        if self.multi_objective and len(self.objectives) > 1:
            return [(self._history[i][0], dict(self._history[i][1])) for i in front_indices(values)]
        order = sorted(range(len(values)), key=lambda i: (values[i][0], i))
        return [(self._history[i][0], dict(self._history[i][1])) for i in order]

    @property
    def finished(self) -> bool:
        """True when the strategy has nothing more to propose (space exhausted, generations done)."""
        if self._pending:
            return False
        self._start()
        return self._next is None

    @property
    def history(self) -> list[tuple[str, dict[str, float]]]:
        """Every told ``(arch, metrics)``, in the order told."""
        return list(self._history)

    @property
    def num_asked(self) -> int:
        return len(self._asked)

    def values(self, arch: str) -> Values | None:
        """The told objective values of ``arch`` (or an equivalent arch), else None."""
        return self._values.get(self.space.key(arch))

    # --- helpers for subclasses -----------------------------------------------------------------

    def is_asked(self, arch_or_key: str, *, is_key: bool = False) -> bool:
        """Whether ``arch`` (or a key) was asked in an earlier batch."""
        return (arch_or_key if is_key else self.space.key(arch_or_key)) in self._asked

    def take_new(self, arch: str, exclude: set[str]) -> bool:
        """Reserve ``arch`` for the batch being built: True (and its key added to ``exclude``) when
        it was never asked and is not in ``exclude`` already."""
        key = self.space.key(arch)
        if key in self._asked or key in exclude:
            return False
        exclude.add(key)
        return True

    def sample_new(self, exclude: set[str]) -> str | None:
        """A uniformly random arch with an unseen key (reserved in ``exclude``); None if exhausted.

        Random draws first; once they stall a small genome space is enumerated, so a finite space
        is known to be exhausted exactly (then the draw is uniform over the remaining keys).
        """
        if self._enumerated is None:
            patience = _SAMPLE_PATIENCE if self._can_enumerate() else _LARGE_SPACE_PATIENCE
            for _ in range(patience):
                arch = self.space.sample(self.rng)
                if self.take_new(arch, exclude):
                    return arch
            if not self._can_enumerate():
                return None
            self._enumerated = self._enumerate()
        remaining = [k for k in self._enumerated if k not in self._asked and k not in exclude]
        if not remaining:
            return None
        key = self.rng.choice(remaining)
        exclude.add(key)
        return self._enumerated[key]

    def score(self, values: Values) -> float:
        """The minimised scalar of single-objective strategies."""
        return values[0]

    # --- internals ------------------------------------------------------------------------------

    def _start(self) -> None:
        if self._search_gen is None and not self._done:
            self._search_gen = self._search()
            self._advance(None)

    def _advance(self, results: list[Values] | None) -> None:
        assert self._search_gen is not None
        try:
            batch = next(self._search_gen) if results is None else self._search_gen.send(results)
        except StopIteration:
            batch = []
        if batch:
            self._next = list(batch)
        else:
            self._next, self._done = None, True
            self._search_gen.close()

    def _objective_values(self, arch: str, metrics: Mapping[str, float]) -> Values:
        if not isinstance(metrics, Mapping):
            raise InvalidValueError(f"strategy {self.name}: metrics must be a mapping of objective -> value, "
                                    f"got {type(metrics).__name__}")
        missing = [o for o in self.objectives if o not in metrics]
        if missing:
            raise InvalidValueError(f"strategy {self.name}: metrics of {arch!r:.80} lack objective(s) "
                                    f"{', '.join(missing)} (got {', '.join(map(str, metrics)) or 'none'}); "
                                    "tell a failed evaluation as inf or nan")
        out = []
        for name in self.objectives:
            value = metrics[name]
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise InvalidValueError(f"strategy {self.name}: objective {name} of {arch!r:.80} must be a number, "
                                        f"got {value!r:.40}") from None
            # A failed (or diverged) evaluation ranks last rather than stopping the search.
            out.append(number if math.isfinite(number) else math.inf)
        return tuple(out)

    def _check_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(params) - set(self.params_spec))
        if unknown:
            accepted = ", ".join(f"{n}={p.default!r}" for n, p in self.params_spec.items()) or "none"
            raise InvalidValueError(f"strategy {self.name!r} does not accept {', '.join(unknown)}; "
                                    f"its parameters are: {accepted}")
        return {n: p.check(n, params[n]) if n in params else p.default for n, p in self.params_spec.items()}

    def _can_enumerate(self) -> bool:
        low, high = self.space.vector_bounds()
        return math.prod(int(h - l + 1) for l, h in zip(low, high)) <= _ENUMERATION_LIMIT

    def _enumerate(self) -> dict[str, str]:
        """Key -> first arch, over every genome in bounds (the interface says all are valid)."""
        low, high = self.space.vector_bounds()
        out: dict[str, str] = {}
        for vec in itertools.product(*(range(int(l), int(h) + 1) for l, h in zip(low, high))):
            arch = self.space.from_vector(np.asarray(vec, dtype=np.int64))
            out.setdefault(self.space.key(arch), arch)
        return out

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"<strategy {self.name} seed={self.seed} objectives={list(self.objectives)} {params}>"


def _check_objectives(objectives: Sequence[str] | str) -> tuple[str, ...]:
    names = (objectives,) if isinstance(objectives, str) else tuple(objectives)
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise InvalidValueError(f"a strategy needs at least one objective name (all minimised), got {objectives!r}")
    if len(set(names)) != len(names):
        raise InvalidValueError(f"objectives must be distinct, got {list(names)}")
    return names


# --- registry -----------------------------------------------------------------------------------

STRATEGIES: Registry[type[Strategy]] = Registry("strategy", "strategies")


def register_strategy(name: str) -> Callable[[type[Strategy]], type[Strategy]]:
    """Class decorator: make a :class:`Strategy` subclass available to :func:`create_strategy` as ``name``."""
    return STRATEGIES.register(name)


def create_strategy(name: str, space: SearchSpace, objectives: Sequence[str] | str, seed: int,
                    **params: Any) -> Strategy:
    """A new strategy ``name`` over ``space`` (unknown names and bad params raise one-line errors)."""
    return STRATEGIES.get(name)(space, objectives, seed, **params)


def list_strategies(pattern: str = "*") -> list[str]:
    """Registered strategy names matching a shell-style pattern."""
    return STRATEGIES.names(pattern)
