"""Run several attacks on one model in lockstep: one batched model call per round for all of them.

Why: a protocol attacks the same points at many radii and with several attacks. On a small network
each model call has a fixed cost, and a radius grid pays it once per radius per step; run together,
the still-unbroken points of every (attack, radius) share one forward (or one forward-backward) per
step. Each attack runs unchanged in its own thread with its own seeded generator and its own state,
and sees a stand-in model (:class:`LockstepModel`) whose queries wait until every running attack
has asked for its next query; then the last one to ask runs them all as one batch and hands each
its slice. So an attack's random draws, its points and its decisions are exactly those of running
it alone: only the batch its points travel in changes (its values can differ from a lone run in
the last float bits, as any change of batch size can).

The model must treat samples independently (eval mode: batch norm uses its running statistics),
which every attack already assumes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch import nn

from robnas.attacks.gradient import LossGradient, QueryRouter
from robnas.nn.attack_path import frozen_parameters, gradient_model

T = TypeVar("T")
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class _Query:
    """One attack's pending model query and, once the round ran, its answer."""

    x: torch.Tensor
    owner: int = 0                          # the asking attack's index (fixes the batch order)
    y: torch.Tensor | None = None           # labels of a gradient query
    loss_fn: LossFn | None = None           # None: a plain forward
    answer: Any = None
    error: BaseException | None = None
    done: bool = field(default=False)


class Lockstep:
    """The meeting point of the attacks: collects one query per running attack, runs them as one batch.

    ``inference`` (default: ``model``) answers plain forwards, e.g. a frozen copy of the model that
    computes the same logits faster; gradients come from ``model`` as :func:`gradient_model` makes
    it cheaper to differentiate (a channels-last copy: the same to float rounding).
    """

    def __init__(self, model: nn.Module, inference: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        self.model = model
        self.inference = model if inference is None else inference
        self._cond = threading.Condition()
        self._running = 0
        self._pending: list[_Query] = []
        self.rounds = 0
        self._differentiated: nn.Module | None = None  # built at the first gradient query

    def ask(self, query: _Query) -> Any:
        """Queue ``query``; the last running attack to ask runs the round. Returns this query's answer."""
        with self._cond:
            self._pending.append(query)
            if len(self._pending) >= self._running:
                self._run_round()
            while not query.done:
                self._cond.wait()
        if query.error is not None:
            raise query.error
        return query.answer

    def run(self, jobs: Sequence[Callable[[nn.Module], T]]) -> list[T]:
        """Run every job (an attack on the given stand-in model) in lockstep; their results, in order.

        The first job's exception (in job order) is re-raised after all of them ended.
        """
        results: list[Any] = [None] * len(jobs)
        errors: list[BaseException | None] = [None] * len(jobs)
        self._running = len(jobs)

        def work(i: int) -> None:
            try:
                results[i] = jobs[i](LockstepModel(self, i))
            except BaseException as exc:  # noqa: BLE001 -- handed to the caller below
                errors[i] = exc
            finally:
                self._leave()

        threads = [threading.Thread(target=work, args=(i,), daemon=True, name=f"lockstep-{i}")
                   for i in range(len(jobs))]
        with frozen_parameters(self.model):  # once for all the attacks (restored after)
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        for error in errors:
            if error is not None:
                raise error
        return results

    def _leave(self) -> None:
        with self._cond:
            self._running -= 1
            if self._pending and len(self._pending) >= self._running:
                self._run_round()

    def _run_round(self) -> None:
        """Answer every pending query: one forward for the plain ones, one forward-backward for the others."""
        # In job order, not arrival order: a model that draws random numbers (dropout at test time) then
        # gives every row the same draws in every run.
        pending, self._pending = sorted(self._pending, key=lambda q: q.owner), []
        self.rounds += 1
        distinct, answered_by = _distinct(pending)
        plain = [q for q in distinct if q.loss_fn is None]
        graded = [q for q in distinct if q.loss_fn is not None]
        try:
            if plain:
                with torch.no_grad():
                    logits = _batched(self.inference, [q.x for q in plain])
                for q, part in zip(plain, logits):
                    q.answer = part
            if graded:
                for q, answer in zip(graded, self._gradients(graded)):
                    q.answer = answer
            for q, first in zip(pending, answered_by):
                if q is not first:  # a copy: attacks may change their answers in place
                    q.answer = _copied(first.answer)
        except BaseException as exc:  # noqa: BLE001 -- every attack of the round sees the failure
            for q in pending:
                q.error = exc
        for q in pending:
            q.done = True
        self._cond.notify_all()

    def _gradients(self, queries: list[_Query]) -> Iterator[LossGradient]:
        if self._differentiated is None:  # rounds run one at a time (under the lock): made once
            self._differentiated = gradient_model(self.model)
        sizes = [q.x.shape[0] for q in queries]
        x = torch.cat([q.x.detach() for q in queries]).requires_grad_(True)
        with torch.enable_grad():
            parts = self._differentiated(x).split(sizes)
            losses = [q.loss_fn(part, q.y) for q, part in zip(queries, parts)]  # type: ignore[misc]
            # Samples are independent, so the gradient of the sum over all attacks' losses is, per sample,
            # the gradient of that attack's own loss sum.
            (grad,) = torch.autograd.grad(torch.stack([loss.sum() for loss in losses]).sum(), [x])
        for part, loss, g in zip(parts, losses, grad.split(sizes)):
            yield LossGradient(part.detach(), loss.detach(), g)


def _distinct(queries: list[_Query]) -> tuple[list[_Query], list[_Query]]:
    """The round's distinct queries, and for every query the first equal one (itself if none came before).

    Why: several cells of a protocol ask the very same question in the same round -- FGSM at 11 radii
    takes the gradient at the clean points, and every randomly started attack screens the clean points
    with a forward -- so it is computed once (and each asker gets its own copy of the answer).
    """
    distinct: list[_Query] = []
    first: list[_Query] = []
    for q in queries:
        same = next((d for d in distinct if d.loss_fn is q.loss_fn and _equal(d.y, q.y) and _equal(d.x, q.x)), None)
        if same is None:
            distinct.append(q)
        first.append(same or q)
    return distinct, first


def _equal(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    if a is None or b is None:
        return a is b
    return a is b or (a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b)))


def _copied(answer: Any) -> Any:
    if isinstance(answer, LossGradient):
        return LossGradient(answer.logits.clone(), answer.loss.clone(), answer.grad.clone())
    return answer.clone()


def _batched(fn: Callable[[torch.Tensor], torch.Tensor], xs: list[torch.Tensor]) -> list[torch.Tensor]:
    sizes = [x.shape[0] for x in xs]
    return list(fn(torch.cat(xs)).split(sizes))


class LockstepModel(QueryRouter):
    """What one attack of a lockstep run sees as its model: attack queries go to the shared round.

    A direct call (attacks that do not query through :mod:`robnas.attacks.gradient`) runs the real
    model at once, outside the rounds. The real model is not a submodule, so mode switches of the
    attack's ``eval_mode`` touch only this stand-in; ``parameters()`` are the real model's, so the
    device is found as usual.
    """

    def __init__(self, lockstep: Lockstep, owner: int = 0) -> None:
        super().__init__()
        object.__setattr__(self, "_lockstep", lockstep)
        object.__setattr__(self, "_owner", owner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._lockstep.model(x)

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        return self._lockstep.model.parameters(recurse)

    def query_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self._lockstep.ask(_Query(x, self._owner))

    def query_gradient(self, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn) -> LossGradient:
        return self._lockstep.ask(_Query(x, self._owner, y, loss_fn))


def run_in_lockstep(model: nn.Module, jobs: Sequence[Callable[[nn.Module], T]],
                    inference: Callable[[torch.Tensor], torch.Tensor] | None = None) -> list[T]:
    """Run ``jobs`` (each takes the model to attack) in lockstep on ``model``; their results in order."""
    return Lockstep(model, inference).run(jobs)
