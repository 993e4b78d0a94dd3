"""What a search method adds to the bilevel loop: the :class:`SearchTerm` interface.

The loop (:mod:`robnas.search.differentiable.loop`) runs DARTS' alternation; a term changes it at
four points, so AdvRush, RNAS and a user's own idea are terms plugged into one loop, not copies:

(a) :meth:`SearchTerm.weight_batch` / :meth:`SearchTerm.arch_batch` transform the batch the weight
    step / the architecture step sees (RNAS: PGD examples);
(b) :meth:`SearchTerm.arch_loss` adds a differentiable loss to the architecture objective
    (AdvRush: the input-curvature regulariser);
(c) :meth:`SearchTerm.after_step` acts after the iteration's steps (RNAS: the projection of the
    alphas onto the vulnerability bound);
(d) :meth:`SearchTerm.active` says when the term takes part at all (warm-up), and
    :meth:`SearchTerm.plan` which steps an iteration runs (RNAS: no architecture step while the
    weights warm up; projection-only iterations).

A term that keeps state across iterations stores it in :meth:`SearchTerm.state_dict` so that a
resumed search continues exactly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from robnas.errors import InvalidValueError
from robnas.registry import Registry
from robnas.spaces.supernet import Supernet


@dataclass(frozen=True)
class StepInfo:
    """Where the loop is: ``epoch`` and ``step`` count from 0; ``seed`` is the run's seed."""

    epoch: int
    epochs: int
    step: int
    steps: int
    seed: int

    @property
    def step_seed(self) -> int:
        """A reproducible seed unique to this iteration (for PGD random starts and the like)."""
        return self.seed * 1_000_003 + self.epoch * 10_007 + self.step


@dataclass(frozen=True)
class ArchForward:
    """The architecture loss's own forward pass, offered to terms that can reuse it.

    ``x`` is the (untransformed) architecture batch as a leaf that requires grad, ``logits`` the
    supernet's output on it, still attached to the graph (so a term can take input gradients of the
    loss without another forward).
    """

    x: torch.Tensor
    y: torch.Tensor
    logits: torch.Tensor


@dataclass(frozen=True)
class StepPlan:
    """Which steps an iteration runs. The loop combines the plans of all active terms: a step runs
    only if every term allows it; the weight step goes first if any term asks for it (DARTS itself
    updates the architecture first)."""

    weights: bool = True
    architecture: bool = True
    weights_first: bool = False

    def combine(self, other: StepPlan) -> StepPlan:
        return StepPlan(self.weights and other.weights, self.architecture and other.architecture,
                        self.weights_first or other.weights_first)


@dataclass(frozen=True)
class NoParams:
    """The parameters of a term that has none."""


def proportional_warmup(epochs: int, paper_warmup: int, paper_epochs: int) -> int:
    """A paper's warm-up share of a shorter (or longer) budget, rounded (50/60 of 12 epochs is 10),
    leaving at least one epoch after it."""
    return min(round(paper_warmup / paper_epochs * epochs), max(epochs - 1, 0))


def check_warmup(term: str, warmup_epochs: int | None, epochs: int) -> None:
    """An explicit warm-up must leave at least one epoch in which the term acts."""
    if warmup_epochs is not None and warmup_epochs >= epochs:
        raise InvalidValueError(f"search.differentiable.{term}.warmup_epochs={warmup_epochs} leaves no search "
                                f"epoch after the warm-up (epochs={epochs}); lower it or raise the epochs")


class SearchTerm:
    """Base class: every hook is a no-op, so a subclass overrides only what it changes.

    ``x`` are images in [0, 1]; hooks that receive the architecture batch get the clean one, even if
    another term transforms it for the architecture loss.

    A term's parameters are its ``Params`` dataclass (defaults written there, once; the config
    section of the term is that dataclass); ``Term(**params)`` builds and validates them, and the
    term reads ``self.params``. The registry stamps ``name``, the key under which the loop logs
    this term's loss and metrics.
    """

    name: ClassVar[str] = "term"
    Params: ClassVar[type] = NoParams

    def __init__(self, **params: Any) -> None:
        fields = [f.name for f in dataclasses.fields(self.Params)]
        unknown = sorted(set(params) - set(fields))
        if unknown:
            raise InvalidValueError(f"search term {self.name!r} takes no parameter {', '.join(unknown)}; "
                                    f"its parameters: {', '.join(fields) or 'none'}")
        self.params = self.Params(**params)

    def check(self, epochs: int) -> None:
        """Refuse settings that cannot work for a search of ``epochs`` epochs (before anything runs)."""

    def active(self, info: StepInfo) -> bool:
        return True

    def plan(self, info: StepInfo) -> StepPlan:
        return StepPlan()

    def weight_batch(self, model: Supernet, x: torch.Tensor, y: torch.Tensor,
                     info: StepInfo) -> tuple[torch.Tensor, torch.Tensor]:
        return x, y

    def arch_batch(self, model: Supernet, x: torch.Tensor, y: torch.Tensor,
                   info: StepInfo) -> tuple[torch.Tensor, torch.Tensor]:
        return x, y

    def arch_loss(self, model: Supernet, x: torch.Tensor, y: torch.Tensor, info: StepInfo) -> torch.Tensor | None:
        """A loss added to the architecture objective (differentiable w.r.t. the alphas), or None."""
        return None

    #: Whether :meth:`arch_loss_from` uses the architecture loss's forward (the loop then makes the batch a
    #: leaf that requires grad, which costs the others a little).
    reuses_arch_forward: ClassVar[bool] = False

    def arch_loss_from(self, model: Supernet, x: torch.Tensor, y: torch.Tensor, info: StepInfo,
                       forward: ArchForward | None) -> torch.Tensor | None:
        """:meth:`arch_loss`, given the architecture loss's forward (None when the batch was transformed).

        Override it to save a forward pass; the default ignores ``forward``.
        """
        return self.arch_loss(model, x, y, info)

    def after_step(self, model: Supernet, x: torch.Tensor, y: torch.Tensor, info: StepInfo) -> dict[str, float]:
        """Runs after the iteration's steps (with the clean architecture batch); returns metrics to log."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class WarmedUpTerm(SearchTerm):
    """A term that waits for a warm-up: ``params.warmup_epochs``, or by default the paper's share of the
    search (``paper_warmup`` of ``paper_epochs``) scaled to the configured number of epochs."""

    paper_warmup: ClassVar[int] = 0
    paper_epochs: ClassVar[int] = 1

    def warmup(self, epochs: int) -> int:
        given = self.params.warmup_epochs
        return proportional_warmup(epochs, self.paper_warmup, self.paper_epochs) if given is None else given

    def check(self, epochs: int) -> None:
        check_warmup(self.name, self.params.warmup_epochs, epochs)


TERMS: Registry[type[SearchTerm]] = Registry("search term", "terms")


def register_term(name: str) -> Callable[[type[SearchTerm]], type[SearchTerm]]:
    """Class decorator: make a :class:`SearchTerm` subclass usable by name (methods, config, plugins)."""
    return TERMS.register(name)


def create_term(name: str, params: Any = None, epochs: int | None = None) -> SearchTerm:
    """The registered term ``name`` built from its params (a dict or its Params dataclass), checked
    against a search of ``epochs`` epochs when given."""
    cls = TERMS.get(name)
    if params is None:
        values: dict[str, Any] = {}
    elif dataclasses.is_dataclass(params):
        values = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    else:
        values = dict(params)
    term = cls(**values)
    if epochs is not None:
        term.check(epochs)
    return term


def list_terms(pattern: str = "*") -> list[str]:
    return TERMS.names(pattern)
