"""The attack interface: input checks, eval mode, chunking, random generators and the result record.

Subclasses implement :meth:`Attack._attack` for one chunk of samples; the base class does
everything every attack must do the same way: validate inputs, put the model in eval mode and
restore the caller's per-module modes afterwards, seed a private generator (the caller's global
RNG is never touched), split large inputs into chunks, and assemble an :class:`AttackResult`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from robnas.attacks.checks import (check_batch_size, check_eps, check_inputs, check_norm, check_seed,
                                   check_start)
from robnas.attacks.gradient import QueryCounter, QueryRouter, forward
from robnas.attacks.outcome import Outcome
from robnas.attacks.threat import NORMS
from robnas.checks import flag
from robnas.nn.attack_path import frozen_parameters
from robnas.rng import make_generator


@dataclass(frozen=True)
class AttackResult:
    """What :meth:`Attack.run` returns.

    ``success[i]`` is True when the model misclassifies ``x_adv[i]`` (points misclassified when
    clean count as successes); ``logits`` are the model's outputs at ``x_adv``; ``queries`` is the
    number of single-image model evaluations spent (a forward-backward counts as one).
    """

    x_adv: torch.Tensor
    success: torch.Tensor
    logits: torch.Tensor
    queries: int

    @property
    def robust_accuracy(self) -> float:
        """Fraction of samples still classified correctly at ``x_adv``."""
        return 0.0 if self.success.numel() == 0 else 1.0 - self.success.float().mean().item()


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Put every module in eval mode; afterwards restore each module's own flag (not just the root's)."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


# What an attack knows about the model: gradients, only outputs, or a chain of other attacks.
KINDS = ("white-box", "black-box", "composite")


class Attack(ABC):
    """An evasion attack in a norm ball around each input.

    ``early_stop=True`` (evaluation mode, AutoAttack semantics): a sample is broken as soon as
    any iterate of any restart is misclassified, that iterate is kept, and the sample leaves the
    batch; clean-misclassified points are never attacked. ``early_stop=False``: every sample gets
    the full budget and the attack's final point (see the subclass) is returned.

    A registered attack describes itself on its class, so that protocols, reports and reliability
    checks need no list of attack names (``register_attack`` refuses a class that does not):

    * ``title``: its column title in reports (``"PGD"``; Table 1 of Devaguptapu et al. calls APGD-CE
      ``"AutoPGD"``), declared by every registered class itself;
    * ``kind``: ``"white-box"`` (follows gradients), ``"black-box"`` (queries outputs only) or
      ``"composite"`` (runs other registered attacks; ``member_titles`` names them in reports);
    * ``norms``: the threat models it supports (``"L0"``: ``eps`` is a pixel budget, not a radius);
    * ``radius_rules``: parameters that follow a protocol's radius, ``{"alpha": Fraction(1, 4)}``
      meaning alpha = eps/4; a protocol's threat model may override a rule;
    * ``refines``: single-step attacks this one iterates, so it must never leave more accuracy than
      they do at the same radius (a reliability check).

    An attack taking ``steps`` may be spelled with its iteration count, ``"pgd-20"``.
    """

    name: ClassVar[str] = ""                       # set by the registry
    norms: ClassVar[tuple[str, ...]] = NORMS
    title: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    radius_rules: ClassVar[Mapping[str, Fraction]] = {}
    refines: ClassVar[tuple[str, ...]] = ()
    member_titles: ClassVar[Mapping[str, str]] = {}

    def __init__(self, *, eps: float = 8 / 255, norm: str = "Linf", seed: int = 0, early_stop: bool = True,
                 batch_size: int | None = None) -> None:
        self.eps = check_eps(self.name, eps)
        self.norm = check_norm(self.name, norm, self.norms)
        self.seed = check_seed(self.name, seed)
        self.early_stop = flag(f"attack {self.name!r}", "early_stop", early_stop)
        self.batch_size = check_batch_size(self.name, batch_size)

    #: Whether every run draws random numbers; attacks whose randomness depends on their settings
    #: override :attr:`is_random` instead.
    draws_random: ClassVar[bool] = False

    @property
    def is_random(self) -> bool:
        """Whether the attack draws random numbers (so that different seeds give different points)."""
        return self.draws_random

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_init: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Adversarial images only (may skip the forward pass that :meth:`run` spends on the logits)."""
        return self._execute(model, x, y, x_init, generator, need_logits=False)[0]

    def run(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_init: torch.Tensor | None = None,
            generator: torch.Generator | None = None) -> AttackResult:
        """Attack ``(x, y)``.

        ``x_init`` replaces the (random) start of the first restart (it is projected into the
        threat set). Random numbers come from a fresh generator seeded with ``seed``, or from
        ``generator`` (on the images' device) to continue one stream over several batches.
        """
        x_adv, logits, queries = self._execute(model, x, y, x_init, generator, need_logits=True)
        if x.shape[0] == 0:
            return AttackResult(x_adv=x_adv, success=torch.zeros(0, dtype=torch.bool, device=x.device),
                                logits=x.new_zeros(0, 0), queries=0)
        assert logits is not None  # every sample is offered with its logits when they are needed
        y = y.to(device=logits.device, dtype=torch.long)
        return AttackResult(x_adv=x_adv, success=logits.argmax(1) != y, logits=logits, queries=queries)

    def _execute(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_init: torch.Tensor | None,
                 generator: torch.Generator | None, need_logits: bool) -> tuple[torch.Tensor, torch.Tensor | None, int]:
        x, y = check_inputs(self.name, x, y)
        x = x.detach()
        x_init = check_start(self.name, x, x_init)
        counter = QueryCounter()
        gen = make_generator(self.seed, x.device) if generator is None else generator
        size = self.batch_size or max(x.shape[0], 1)
        adv_parts, logit_parts = [], []
        # No weight gradients during an attack (exact; restored after). A stand-in model (lockstep) is
        # handled by whoever runs the real one, once for all its attacks.
        frozen = nullcontext() if isinstance(model, QueryRouter) else frozen_parameters(model)
        with eval_mode(model), frozen:
            for start in range(0, x.shape[0], size):
                part = slice(start, start + size)
                outcome = Outcome(x[part], y[part])
                init = None if x_init is None else x_init[part]
                if self.eps == 0:  # the ball is the clean point: nothing to search
                    keep_clean(model, x[part], y[part], outcome, counter, need_logits)
                else:
                    self._attack(model, x[part], y[part], init, gen, outcome, counter, need_logits)
                adv_parts.append(outcome.x_adv)
                logit_parts.append(outcome.logits)
        if not adv_parts:  # an empty batch
            return x.clone(), None, 0
        complete = [part for part in logit_parts if part is not None]
        logits = torch.cat(complete) if len(complete) == len(logit_parts) else None
        return torch.cat(adv_parts), logits, counter.queries

    @abstractmethod
    def _attack(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_init: torch.Tensor | None,
                gen: torch.Generator, outcome: Outcome, counter: QueryCounter, need_logits: bool) -> None:
        """Attack one chunk, offering candidate points to ``outcome``.

        With ``need_logits`` (or in evaluation mode) every sample must be offered with its logits;
        otherwise points may be stored with :meth:`Outcome.place`.
        """


def keep_clean(model: nn.Module, x: torch.Tensor, y: torch.Tensor, outcome: Outcome, counter: QueryCounter,
               need_logits: bool) -> None:
    """The identity attack: every sample keeps its clean point (one forward when logits are needed)."""
    if need_logits:
        logits = forward(model, x, counter)
        outcome.offer(torch.arange(x.shape[0], device=x.device), x, logits,
                      F.cross_entropy(logits, y, reduction="none"))


def screen_clean(model: nn.Module, x: torch.Tensor, y: torch.Tensor, outcome: Outcome,
                 counter: QueryCounter) -> torch.Tensor:
    """One clean forward: misclassified points are kept as they are (success); returns the others' indices."""
    logits = forward(model, x, counter)
    wrong = logits.argmax(1) != y
    all_idx = torch.arange(x.shape[0], device=x.device)
    outcome.offer(all_idx[wrong], x[wrong], logits[wrong], F.cross_entropy(logits[wrong], y[wrong], reduction="none"))
    return all_idx[~wrong]


def points_to_search(model: nn.Module, x: torch.Tensor, y: torch.Tensor, outcome: Outcome, counter: QueryCounter,
                     early_stop: bool, first: bool = True) -> torch.Tensor:
    """Indices of the points a search (or one of its restarts) works on.

    Evaluation mode: on the first run the clean-correct points (clean-misclassified ones are kept
    as they are, one forward pass), on later runs the points still robust; otherwise every point,
    misclassified ones included, gets the full search.
    """
    if not early_stop:
        return torch.arange(x.shape[0], device=x.device)
    return screen_clean(model, x, y, outcome, counter) if first else outcome.robust_indices()
