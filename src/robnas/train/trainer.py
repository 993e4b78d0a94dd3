"""The training loop: standard, PGD (Madry et al.) or TRADES adversarial training, one atomic checkpoint per epoch.

The epochs run in :class:`robnas.train.epochs.EpochLoop`: resume is exact (the checkpoint carries the
model, optimizer, the data-order generator and the global RNG for drop-path and dropout; schedules
are functions of the epoch), so a run killed after epoch k and resumed produces the same weights as a
run that was never interrupted.

Data-parallel (``torchrun``, :mod:`robnas.distributed`): ``cfg.batch_size`` is the global batch; each
rank trains on its rows of every batch, differentiates its share of the global mean loss and the
gradients are summed over the ranks (one flat all-reduce after the backward, before clipping and
the optimiser step), batch norm uses the global batch's statistics, and the random starts of the
adversarial examples are drawn for the whole global batch; so N processes compute, to float
rounding, the weights one process computes (dropout and drop-path masks excepted: they are drawn
per rank). Training metrics are summed over the ranks; validation runs on every rank on the whole
validation split (it is small) and only rank 0 writes.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import robnas.distributed as distributed
from robnas.attacks import create_attack
from robnas.config import config_to_dict
from robnas.data import Augment, Split, iterate_batches
from robnas.errors import TrainingDivergedError
from robnas.models import set_drop_path_prob
from robnas.rng import make_generator
from robnas.store.run_dir import RunDir
from robnas.train.adversarial import adversarial_loss
from robnas.train.checkpoint import load_checkpoint, save_checkpoint
from robnas.train.epochs import EpochLoop
from robnas.train.schedule import cosine_lr, drop_path_prob
from robnas.train.settings import TrainConfig, check_train_config


@dataclass
class TrainResult:
    model: nn.Module
    history: list[dict[str, Any]] = field(default_factory=list)
    last_path: Path | None = None
    best_path: Path | None = None
    seconds: float = 0.0


def _loss(output: torch.Tensor | tuple[torch.Tensor, torch.Tensor], y: torch.Tensor,
          cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of the main head plus ``aux_weight`` times that of the auxiliary head, if any."""
    logits, aux = output if isinstance(output, tuple) else (output, None)
    loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
    if aux is not None:
        loss = loss + cfg.aux_weight * F.cross_entropy(aux, y, label_smoothing=cfg.label_smoothing)
    return loss, logits


@torch.no_grad()
def clean_accuracy(model: nn.Module, split: Split, batch_size: int = 512) -> float:
    """Top-1 accuracy on a split, in eval mode (the caller's mode is restored)."""
    was_training = model.training
    model.eval()
    correct = 0
    for x, y in iterate_batches(split, batch_size):
        correct += (model(x).argmax(1) == y).sum().item()
    model.train(was_training)
    return correct / max(len(split), 1)


def robust_accuracy(model: nn.Module, split: Split, attack: Any, batch_size: int = 512) -> float:
    """Accuracy under ``attack`` (its own seed fixes the random start)."""
    correct = 0
    for x, y in iterate_batches(split, batch_size):
        correct += (~attack.run(model, x, y).success).sum().item()
    return correct / max(len(split), 1)


def train_model(
    model: nn.Module,
    train_split: Split,
    val_split: Split,
    cfg: TrainConfig,
    run: RunDir,
    seed: int = 0,
    resume: bool = False,
    quiet: bool = False,
    extra: dict[str, Any] | None = None,
    checkpoints: bool = True,
) -> TrainResult:
    """Train ``model`` in place on ``train_split``; validate on ``val_split`` after every epoch.

    ``extra`` (JSON-able: dataset name, row label) is stored in every checkpoint for ``robnas eval``.
    ``checkpoints=False`` writes none (the best weights are kept in memory; nothing to resume): a
    benchmark candidate's 8 checkpoint writes were a quarter of its 0.6 s of training. The weights
    are the same either way.
    """
    check_train_config(cfg)
    world = distributed.current()
    distributed.check_batch_size(cfg.batch_size, "train.batch_size", world)
    device = train_split.images.device
    on_cuda = device.type == "cuda"
    use_amp = cfg.amp and on_cuda
    memory_format = torch.channels_last if (cfg.channels_last and on_cuda) else torch.contiguous_format
    model.to(device=device, memory_format=memory_format)
    distributed.use_global_batch_norm(model)

    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                weight_decay=cfg.weight_decay, nesterov=cfg.nesterov)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    data_gen = make_generator(seed, device)
    augment = Augment(crop_padding=cfg.crop_padding, flip=cfg.flip, cutout=cfg.cutout)
    adv = cfg.adversarial
    # Robust validation uses a fixed attack seed so that "best" compares like with like across epochs.
    val_attack = create_attack("pgd", eps=adv.eps, alpha=adv.alpha, steps=max(adv.steps, 10), seed=seed)
    track_robust = cfg.select_best == "robust" or adv.enabled

    loop = EpochLoop(run, "last.pt", cfg.epochs, device, fingerprint=getattr(model, "spec", None), resume=resume,
                     quiet=quiet, desc="train", generators={"data": data_gen}, seed=seed,
                     mismatch="was written for another model; use a new --name or drop --resume", save=checkpoints)
    best_path = run.checkpoints / "best.pt"
    best_state: dict[str, torch.Tensor] | None = None  # without checkpoints: the best weights, in memory
    best_score = -math.inf
    if loop.restored is not None:
        model.load_state_dict(loop.restored["model_state"])
        optimizer.load_state_dict(loop.restored["optimizer_state"])
        scaler.load_state_dict(loop.restored["scaler_state"])
        best_score = loop.restored["best_score"]

    for epoch in loop:
        epoch_start = time.perf_counter()
        lr = cosine_lr(epoch, cfg.epochs, cfg.lr, cfg.lr_min)
        for group in optimizer.param_groups:
            group["lr"] = lr
        set_drop_path_prob(model, drop_path_prob(epoch, cfg.epochs, cfg.drop_path))
        model.train()
        total_loss, total_correct, seen = 0.0, 0, 0
        sums: dict[str, float] = {}  # per-sample sums of the adversarial loss's own metrics (TRADES' KL)
        for step, (x, y) in enumerate(iterate_batches(train_split, cfg.batch_size, shuffle=True,
                                                      generator=data_gen, augment=augment, world=world)):
            x = x.contiguous(memory_format=memory_format)
            total = distributed.batch_total(step, len(train_split), cfg.batch_size)
            rows = (*distributed.shard_bounds(total, world), total)
            autocast = torch.autocast("cuda", dtype=torch.float16) if use_amp else contextlib.nullcontext()
            with autocast:
                if adv.enabled:
                    # A fresh, reproducible seed per step: a resumed run crafts the same examples.
                    loss, logits, step_metrics = adversarial_loss(model, x, y, adv, lambda out, t: _loss(out, t, cfg),
                                                           seed * 1_000_003 + epoch * 10_007 + step, rows)
                    for key, value in step_metrics.items():
                        sums[key] = sums.get(key, 0.0) + value * y.shape[0]
                else:
                    loss, logits = _loss(model(x), y, cfg)
            if not torch.isfinite(loss):
                raise TrainingDivergedError(
                    f"training loss became {loss.item()} at epoch {epoch + 1} step {step + 1}; "
                    f"lower the learning rate (--set train.lr={cfg.lr / 10:g}) or enable clipping (train.grad_clip)"
                )
            optimizer.zero_grad(set_to_none=True)
            # This rank's share of the global batch's mean loss; the shares' gradients sum to the global one.
            scaler.scale(loss * (y.shape[0] / total) if world.enabled else loss).backward()
            distributed.all_reduce_gradients(model.parameters())
            if cfg.grad_clip > 0:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            total_loss += loss.item() * y.shape[0]
            total_correct += (logits.argmax(1) == y).sum().item()
            seen += y.shape[0]

        if world.enabled:
            keys = sorted(sums)
            total_loss, total_correct, seen, *values = distributed.sum_values(
                [total_loss, total_correct, seen, *(sums[k] for k in keys)])
            sums = dict(zip(keys, values))
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "lr": lr,
            "train_loss": total_loss / max(seen, 1),
            "train_acc": total_correct / max(seen, 1),
            "val_acc": clean_accuracy(model, val_split),
            **{key: value / max(seen, 1) for key, value in sums.items()},
        }
        if track_robust:
            record["val_robust_acc"] = robust_accuracy(model, val_split, val_attack)
        record["seconds"] = time.perf_counter() - epoch_start

        score = {"last": float(epoch), "clean": record["val_acc"],
                 "robust": record.get("val_robust_acc", 0.0)}[cfg.select_best]
        improved = score > best_score
        best_score = max(best_score, score)
        weights = {"model_spec": model.spec, "model_state": model.state_dict(), "best_score": best_score,
                   "train_config": config_to_dict(cfg), **(extra or {})}
        # The resumable checkpoint first (the truth), then the best weights: a kill between the two keeps
        # last.pt a step ahead, and the next epoch's improvement rewrites best.pt.
        loop.end_epoch(record, {**weights, "optimizer_state": optimizer.state_dict(),
                                "scaler_state": scaler.state_dict()})
        if improved and world.is_main and checkpoints:
            save_checkpoint(best_path, {**weights, "epoch": epoch + 1, "epochs": cfg.epochs,
                                        "complete": epoch + 1 == cfg.epochs, "history": loop.history})
        elif improved and not checkpoints and cfg.select_best != "last":
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        loop.set_postfix(loss=f"{record['train_loss']:.3f}", val=f"{record['val_acc']:.3f}")

    if cfg.select_best != "last" and best_state is not None:
        model.load_state_dict(best_state)
    elif cfg.select_best != "last" and world.is_main and best_path.exists():
        model.load_state_dict(load_checkpoint(best_path, device)["model_state"])
    model.eval()
    return TrainResult(model=model, history=loop.history, last_path=loop.path if checkpoints else None,
                       best_path=best_path if checkpoints and best_path.exists() else None, seconds=loop.seconds)
