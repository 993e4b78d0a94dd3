"""One bilevel search loop (DARTS, Liu et al. 2019) with pluggable :class:`SearchTerm` s.

Each iteration takes a batch of the weight half and one of the architecture half of the training
data and runs (in DARTS' order, unless a term asks for weights first):

* the architecture step: Adam on ``L_val(w, alpha) + sum of the terms' losses``. First order uses
  the current weights; second order (``order=2``) evaluates the objective at the virtually updated
  weights ``w' = w - xi * (momentum * buf + grad_w L_train + wd * w)`` (``xi`` = the current weight
  learning rate, as DARTS) and subtracts ``xi * grad^2_{alpha,w} L_train . grad_{w'} L_val`` computed
  by the central finite difference of DARTS Eq. 8 (``eps = 0.01 / ||grad_{w'} L_val||``). The
  virtual forwards do not change the batch-norm running statistics (they are restored);
* the weight step: SGD with momentum, weight decay and gradient-norm clipping on ``L_train``.

Gradients are taken with ``torch.autograd.grad`` w.r.t. exactly the parameters being stepped, so
the weight step never touches the alphas' gradients and vice versa.

Data-parallel (``torchrun``, :mod:`robnas.distributed`): ``batch_size`` is the global batch of each
half; every rank takes its rows, and EVERY gradient the loop takes (the weight step's, the
architecture step's, and the second-order step's virtual step, the gradients at ``w'`` and both
sides of the finite difference) is the gradient of this rank's share of the global mean loss,
summed over the ranks: every rank holds the same weights and alphas after every step, those of a
single-process run to float rounding (batch norm uses the global batch's statistics). Terms see
their rank's rows; their seeds (``StepInfo.seed``) differ per rank (rank 0 keeps the run's), and
alphas changed by a term's ``after_step`` (RNAS' projection) are broadcast from rank 0 so the ranks
never diverge: that projection is estimated on rank 0's rows of the batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import robnas.distributed as distributed
from robnas.checks import positive_int
from robnas.data import Split, iterate_batches
from robnas.data.batches import count_batches
from robnas.errors import InvalidValueError, TrainingDivergedError
from robnas.nn.double_backward import constant, lean_double_backward
from robnas.search.differentiable.settings import DifferentiableSearchConfig
from robnas.search.differentiable.terms import ArchForward, SearchTerm, StepInfo, StepPlan
from robnas.spaces.supernet import Supernet
from robnas.train.schedule import cosine_lr

#: DARTS: the finite-difference step of the Hessian-vector product is 0.01 / ||grad_w' L_val||.
RADIUS = 0.01


#: The optimisation settings are the config section itself (as train_model takes TrainConfig);
#: its defaults are DARTS' optimiser settings with a demo-sized budget.
SearchSettings = DifferentiableSearchConfig


def check_settings(s: DifferentiableSearchConfig) -> None:
    """One-line errors for settings the loop cannot run with."""
    for name in ("epochs", "batch_size"):
        positive_int("search", name, getattr(s, name))
    if s.order not in (1, 2):
        raise InvalidValueError(f"search order must be 1 (first-order DARTS) or 2 (unrolled), got {s.order!r}")
    for name in ("lr", "arch_lr"):
        if not getattr(s, name) > 0:
            raise InvalidValueError(f"search {name} must be positive, got {getattr(s, name)}")
    for name in ("lr_min", "momentum", "weight_decay", "grad_clip", "arch_weight_decay"):
        if not getattr(s, name) >= 0:
            raise InvalidValueError(f"search {name} must be >= 0, got {getattr(s, name)}")
    if len(s.arch_betas) != 2 or not all(0 <= b < 1 for b in s.arch_betas):
        raise InvalidValueError(f"search arch_betas must be two numbers in [0, 1), got {list(s.arch_betas)!r}")


def _grads(loss: torch.Tensor, params: Sequence[torch.Tensor], **kw: Any) -> list[torch.Tensor]:
    grads = torch.autograd.grad(loss, params, allow_unused=True, **kw)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


def _check_finite(loss: torch.Tensor, what: str, info: StepInfo) -> None:
    if not torch.isfinite(loss):
        raise TrainingDivergedError(
            f"{what} became {loss.item()} at search epoch {info.epoch + 1} step {info.step + 1}; lower the learning "
            "rates (search.differentiable.lr / arch_lr) or the regulariser strength"
        )


class BilevelSearch:
    """The search state (supernet, both optimisers, the terms) and one-iteration / one-epoch methods."""

    def __init__(self, model: Supernet, settings: SearchSettings, terms: Sequence[SearchTerm] = (),
                 seed: int = 0) -> None:
        for term in terms:
            if not isinstance(term, SearchTerm):
                raise InvalidValueError(f"search terms must be SearchTerm instances, got {type(term).__name__}")
        check_settings(settings)
        names = [t.name for t in terms]
        if len(set(names)) != len(names):
            raise InvalidValueError(f"search term names must be unique (they key the logs), got {names}")
        self.model, self.settings, self.terms, self.seed = model, settings, list(terms), seed
        self.world = distributed.current()
        distributed.check_batch_size(settings.batch_size, "search.differentiable.batch_size", self.world)
        distributed.use_global_batch_norm(model)
        # Each rank's share of the current global weight / architecture batch (1 in a world of one).
        self._shares = (1.0, 1.0)
        self.weights = model.weight_parameters()
        self.alphas = model.arch_parameters()
        self.weight_optimizer = torch.optim.SGD(self.weights, lr=settings.lr, momentum=settings.momentum,
                                                weight_decay=settings.weight_decay)
        self.arch_optimizer = torch.optim.Adam(self.alphas, lr=settings.arch_lr, betas=tuple(settings.arch_betas),
                                               weight_decay=settings.arch_weight_decay)

    # --- state ------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {"weight_optimizer": self.weight_optimizer.state_dict(),
                "arch_optimizer": self.arch_optimizer.state_dict(),
                "terms": {t.name: t.state_dict() for t in self.terms}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.weight_optimizer.load_state_dict(state["weight_optimizer"])
        self.arch_optimizer.load_state_dict(state["arch_optimizer"])
        for term in self.terms:
            term.load_state_dict(state["terms"].get(term.name, {}))

    def lr(self, epoch: int) -> float:
        s = self.settings
        return cosine_lr(epoch, s.epochs, s.lr, s.lr_min)

    # --- one iteration ----------------------------------------------------------------------------

    def _global_grads(self, loss: torch.Tensor, params: Sequence[torch.Tensor], half: int,
                      **kw: Any) -> list[torch.Tensor]:
        """The gradient of the global batch's mean loss: this rank's share of it, summed over the ranks.

        ``half`` is 0 for a loss on the weight batch, 1 for one on the architecture batch.
        """
        if not self.world.enabled:
            return _grads(loss, params, **kw)
        grads = _grads(loss * self._shares[half], params, **kw)
        distributed.all_reduce_sum_(grads)
        return grads

    def _transform(self, hook: str, active: list[SearchTerm], x: torch.Tensor, y: torch.Tensor,
                   info: StepInfo) -> tuple[torch.Tensor, torch.Tensor]:
        for term in active:
            x, y = getattr(term, hook)(self.model, x, y, info)
        return x, y

    def _train_loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.model(x)
        return F.cross_entropy(logits, y), logits

    def _arch_objective(self, active: list[SearchTerm], x: torch.Tensor, y: torch.Tensor, info: StepInfo,
                        metrics: dict[str, float]) -> torch.Tensor:
        xt, yt = self._transform("arch_batch", active, x, y, info)
        # A term may reuse this forward (AdvRush's input gradient at x) when the batch is the clean one.
        shared = xt is x and any(t.reuses_arch_forward for t in active)
        if shared:
            xt = x.detach().requires_grad_(True)
        # A term that differentiates this forward's input gradient again wants its lean gradient graph.
        with lean_double_backward() if shared else nullcontext():
            logits = self.model(xt)
        forward = ArchForward(xt, yt, logits) if shared else None
        total = base = F.cross_entropy(logits, yt)
        _check_finite(base, "architecture loss", info)
        metrics["arch_loss"] = base.item()
        metrics["arch_acc"] = float((logits.argmax(1) == yt).float().mean())
        for term in active:
            extra = term.arch_loss_from(self.model, x, y, info, forward)
            if extra is not None:
                _check_finite(extra, f"{term.name} term", info)
                metrics[term.name] = extra.item()
                total = total + extra
        return total

    def weight_step(self, x: torch.Tensor, y: torch.Tensor, info: StepInfo, metrics: dict[str, float]) -> None:
        self.model.train()
        loss, logits = self._train_loss(x, y)
        _check_finite(loss, "training loss", info)
        for p, g in zip(self.weights, self._global_grads(loss, self.weights, 0)):
            p.grad = g
        if self.settings.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.weights, self.settings.grad_clip)
        self.weight_optimizer.step()
        metrics["train_loss"] = loss.item()
        metrics["train_acc"] = float((logits.argmax(1) == y).float().mean())

    def arch_step(self, active: list[SearchTerm], xw: torch.Tensor, yw: torch.Tensor, xa: torch.Tensor,
                  ya: torch.Tensor, info: StepInfo, metrics: dict[str, float]) -> None:
        self.model.train()
        for p, g in zip(self.alphas, self.architecture_gradients(active, xw, yw, xa, ya, info, metrics)):
            p.grad = g
        self.arch_optimizer.step()

    def architecture_gradients(self, active: list[SearchTerm], xw: torch.Tensor, yw: torch.Tensor,
                               xa: torch.Tensor, ya: torch.Tensor, info: StepInfo,
                               metrics: dict[str, float]) -> list[torch.Tensor]:
        """The gradient of the architecture objective w.r.t. the alphas (first or second order)."""
        if self.settings.order == 1:
            # First order: the weights are constants of this step, so no gradient graph grows weight branches.
            with constant(self.weights):
                return self._global_grads(self._arch_objective(active, xa, ya, info, metrics), self.alphas, 1)
        return self._unrolled_grads(active, xw, yw, xa, ya, info, metrics)

    def _unrolled_grads(self, active: list[SearchTerm], xw: torch.Tensor, yw: torch.Tensor, xa: torch.Tensor,
                        ya: torch.Tensor, info: StepInfo, metrics: dict[str, float]) -> list[torch.Tensor]:
        s, xi = self.settings, self.lr(info.epoch)
        original = [p.detach().clone() for p in self.weights]
        buffers = [b.detach().clone() for b in self.model.buffers()]
        try:
            # w' = w - xi * (momentum * buf + grad + wd * w): the SGD step the weights are about to take.
            step = self._global_grads(self._train_loss(xw, yw)[0], self.weights, 0)
            with torch.no_grad():
                for p, w, g in zip(self.weights, original, step):
                    buf = self.weight_optimizer.state.get(p, {}).get("momentum_buffer")
                    moment = 0.0 if buf is None else s.momentum * buf
                    p.copy_(w - xi * (moment + g + s.weight_decay * w))
            objective = self._arch_objective(active, xa, ya, info, metrics)
            grads = self._global_grads(objective, self.alphas + self.weights, 1)
            d_alpha, d_weights = grads[: len(self.alphas)], grads[len(self.alphas):]
            # grad^2_{alpha,w} L_train . v ~ (grad_alpha L_train(w + r v) - grad_alpha L_train(w - r v)) / 2r
            norm = torch.sqrt(sum((v * v).sum() for v in d_weights))
            radius = RADIUS / float(norm) if float(norm) > 0 else 0.0
            sides = []
            for sign in (1.0, -1.0):
                with torch.no_grad():
                    for p, w, v in zip(self.weights, original, d_weights):
                        p.copy_(w + sign * radius * v)
                sides.append(self._global_grads(self._train_loss(xw, yw)[0], self.alphas, 0))
            if radius == 0.0:
                return d_alpha
            return [g - xi * (gp - gn) / (2 * radius) for g, gp, gn in zip(d_alpha, *sides)]
        finally:
            with torch.no_grad():
                for p, w in zip(self.weights, original):
                    p.copy_(w)
                for b, saved in zip(self.model.buffers(), buffers):
                    b.copy_(saved)

    def step(self, xw: torch.Tensor, yw: torch.Tensor, xa: torch.Tensor, ya: torch.Tensor,
             info: StepInfo, totals: tuple[int, int] | None = None) -> dict[str, float]:
        """One iteration; returns its metrics (losses, accuracies, term values).

        ``totals``: the sizes of the global weight and architecture batches of which these are this
        rank's rows (data-parallel runs; None: the batches are whole).
        """
        self._shares = (1.0, 1.0) if totals is None else (len(yw) / totals[0], len(ya) / totals[1])
        active = [t for t in self.terms if t.active(info)]
        plan = StepPlan()
        for term in active:
            plan = plan.combine(term.plan(info))
        metrics: dict[str, float] = {}
        if plan.weights or (plan.architecture and self.settings.order == 2):
            xw, yw = self._transform("weight_batch", active, xw, yw, info)
        if plan.weights_first and plan.weights:
            self.weight_step(xw, yw, info, metrics)
        if plan.architecture:
            self.arch_step(active, xw, yw, xa, ya, info, metrics)
        if not plan.weights_first and plan.weights:
            self.weight_step(xw, yw, info, metrics)
        for term in active:
            for key, value in term.after_step(self.model, xa, ya, info).items():
                metrics[f"{term.name}_{key}"] = value
        if self.world.enabled and any(type(t).after_step is not SearchTerm.after_step for t in active):
            distributed.broadcast_tensors_(self.alphas)
        return metrics

    # --- one epoch --------------------------------------------------------------------------------

    def run_epoch(self, epoch: int, weight_half: Split, arch_half: Split, generator: torch.Generator,
                  wrap: Callable[[Iterable, int], Iterable] | None = None) -> dict[str, float]:
        """Pair shuffled batches of the two halves (DARTS zips its two queues); returns epoch means."""
        bs, world = self.settings.batch_size, self.world
        steps = min(count_batches(len(weight_half), bs, world), count_batches(len(arch_half), bs, world))
        lr = self.lr(epoch)
        for group in self.weight_optimizer.param_groups:
            group["lr"] = lr
        pairs: Iterable = zip(iterate_batches(weight_half, bs, shuffle=True, generator=generator, world=world),
                              iterate_batches(arch_half, bs, shuffle=True, generator=generator, world=world))
        if wrap is not None:
            pairs = wrap(pairs, steps)
        sums: dict[str, float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)
        for step, ((xw, yw), (xa, ya)) in enumerate(pairs):
            info = StepInfo(epoch=epoch, epochs=self.settings.epochs, step=step, steps=steps,
                            seed=distributed.rank_seed(self.seed, world))
            totals = (distributed.batch_total(step, len(weight_half), bs),
                      distributed.batch_total(step, len(arch_half), bs)) if world.enabled else None
            for key, value in self.step(xw, yw, xa, ya, info, totals).items():
                sums[key] += value
                counts[key] += 1
        record = {key: sums[key] / counts[key] for key in sums}
        if world.enabled:  # every rank ran the same steps: the mean over the ranks of the per-step means
            keys = sorted(record)
            record.update(zip(keys, (v / world.size for v in distributed.sum_values([record[k] for k in keys]))))
        record["lr"] = lr
        record["weight_steps"] = counts.get("train_loss", 0)
        record["arch_steps"] = counts.get("arch_loss", 0)
        return record
