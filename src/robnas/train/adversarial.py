"""The loss of one adversarial training step: Madry et al.'s PGD training or TRADES (Zhang et al. 2019).

* ``pgd``: the batch is replaced by PGD examples (``steps`` steps of ``alpha`` in the eps-ball, random
  start), crafted in eval mode with the attack's own seeded stream; the loss is the cross-entropy there.
* ``trades``: ``CE(f(x), y) + beta * KL(f(x_adv) || f(x))`` (the KL of the softmaxes, summed over classes
  and averaged over the batch), where ``x_adv`` maximises that KL from ``x + 0.001 * N(0, 1)`` by
  ``steps`` signed steps of ``alpha`` projected onto the eps-ball and [0, 1] (TRADES' official
  procedure, the model in eval mode while crafting). The clean branch keeps its graph: the KL term's
  gradient flows into the weights through both ``f(x_adv)`` and ``f(x)``, as in TRADES' code. With
  ``beta = 0`` the step is exactly clean training.

Both draw their noise from a generator seeded per step, so a resumed run crafts the same examples.
In a data-parallel run each rank holds rows ``lo:hi`` of a global batch of ``total`` points; the
noise is drawn for the whole global batch and each rank keeps its rows, so the examples are those
of a single-process run.
AdvRush's public code carries a TRADES loss whose KL term is computed in a way that makes it zero;
robnas' is the paper's (its KL term is checked to be non-zero in the tests).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from robnas.attacks import create_attack
from robnas.attacks.base import eval_mode
from robnas.attacks.threat import project
from robnas.rng import make_generator, normal, uniform
from robnas.train.settings import AdversarialTrainingConfig

#: Rows ``lo:hi`` of a global batch of ``total`` points held by this process.
Rows = tuple[int, int, int]

LossFn = Callable[[torch.Tensor | tuple[torch.Tensor, torch.Tensor], torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def _logits(output: torch.Tensor | tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    return output[0] if isinstance(output, tuple) else output


def trades_kl(adv_logits: torch.Tensor, clean_logits: torch.Tensor) -> torch.Tensor:
    """``mean_i KL(softmax(clean_i) || softmax(adv_i))``: TRADES' ``KLDivLoss(sum) / batch``."""
    return F.kl_div(F.log_softmax(adv_logits, dim=1), F.softmax(clean_logits, dim=1), reduction="sum") / adv_logits.shape[0]


def _rows_of(noise: Callable[[tuple[int, ...]], torch.Tensor], x: torch.Tensor, rows: Rows | None) -> torch.Tensor:
    """``noise(shape)`` for the whole global batch, cut to this process's rows."""
    if rows is None:
        return noise(tuple(x.shape))
    lo, hi, total = rows
    return noise((total, *x.shape[1:]))[lo:hi]


def trades_examples(model: nn.Module, x: torch.Tensor, adv: AdversarialTrainingConfig,
                    gen: torch.Generator, rows: Rows | None = None) -> torch.Tensor:
    """TRADES' inner maximisation of the KL divergence from the clean prediction."""
    with eval_mode(model):
        with torch.no_grad():
            clean = _logits(model(x))
        x_adv = (x + 0.001 * _rows_of(lambda shape: normal(shape, gen, x), x, rows)).detach()
        for _ in range(adv.steps):
            x_adv.requires_grad_(True)
            with torch.enable_grad():
                (grad,) = torch.autograd.grad(trades_kl(_logits(model(x_adv)), clean), [x_adv])
            x_adv = project(x_adv.detach() + float(adv.alpha) * grad.sign(), x, float(adv.eps), "Linf")
    return x_adv.detach()


def adversarial_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, adv: AdversarialTrainingConfig,
                     loss_fn: LossFn, seed: int, rows: Rows | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """(loss, logits for the training accuracy, extra metrics) of one adversarial training step.

    ``loss_fn(output, y) -> (loss, logits)`` is the trainer's clean loss (cross-entropy plus the
    auxiliary head's, when the model has one); ``seed`` is this step's own seed; ``rows`` places
    ``x`` in its global batch (data-parallel runs; None: ``x`` is the whole batch).
    """
    # Examples are crafted in full precision even when the step's forward runs under CUDA autocast.
    with torch.autocast(device_type=x.device.type, enabled=False):
        gen = make_generator(seed, x.device)
        if adv.method == "trades":
            x_adv = trades_examples(model, x, adv, gen, rows)
        else:
            # The attack's own start (x + U[-eps, eps], from a generator seeded with `seed`), drawn here for
            # the whole global batch so that every rank starts its rows where one process would.
            start = (x + _rows_of(lambda shape: uniform(shape, gen, x, -float(adv.eps), float(adv.eps)), x, rows)
                     if adv.random_start else None)
            x_adv = create_attack("pgd", eps=adv.eps, alpha=adv.alpha, steps=adv.steps, random_start=adv.random_start,
                                  early_stop=False, seed=seed)(model, x, y, x_init=start)
    if adv.method == "trades":
        natural, logits = loss_fn(model(x), y)
        kl = trades_kl(_logits(model(x_adv)), logits)
        return natural + adv.beta * kl, logits, {"trades_kl": float(kl.detach())}
    loss, logits = loss_fn(model(x_adv), y)
    return loss, logits, {}
