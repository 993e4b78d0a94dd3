"""The training loop: standard or Madry PGD adversarial training, one atomic checkpoint per epoch.

Resume is exact: the checkpoint carries the model, optimizer, the data-order generator and the
global RNG (drop-path, dropout), and schedules are functions of the epoch, so a run killed after
epoch k and resumed produces the same weights as a run that was never interrupted.
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
from tqdm.auto import tqdm

from robnas.attacks import create_attack
from robnas.config import config_to_dict
from robnas.config.schema import TrainConfig
from robnas.data import Augment, Split, iterate_batches
from robnas.errors import CheckpointError, InvalidValueError, TrainingDivergedError
from robnas.models import set_drop_path_prob
from robnas.rng import make_generator
from robnas.store.run_dir import RunDir
from robnas.train.checkpoint import load_checkpoint, save_checkpoint
from robnas.train.schedule import cosine_lr, drop_path_prob

SELECT_BEST = ("last", "clean", "robust")


@dataclass
class TrainResult:
    model: nn.Module
    history: list[dict[str, Any]] = field(default_factory=list)
    last_path: Path | None = None
    best_path: Path | None = None
    seconds: float = 0.0


def _check_config(cfg: TrainConfig) -> None:
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise InvalidValueError("train.epochs and train.batch_size must be >= 1")
    if cfg.lr <= 0:
        raise InvalidValueError(f"train.lr must be positive, got {cfg.lr}")
    if cfg.select_best not in SELECT_BEST:
        raise InvalidValueError(f"train.select_best must be one of {', '.join(SELECT_BEST)}, got {cfg.select_best!r}")


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
) -> TrainResult:
    """Train ``model`` in place on ``train_split``; validate on ``val_split`` after every epoch.

    ``extra`` (JSON-able: dataset name, row label) is stored in every checkpoint for ``robnas eval``.
    """
    _check_config(cfg)
    device = train_split.images.device
    on_cuda = device.type == "cuda"
    use_amp = cfg.amp and on_cuda
    memory_format = torch.channels_last if (cfg.channels_last and on_cuda) else torch.contiguous_format
    model.to(device=device, memory_format=memory_format)

    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                weight_decay=cfg.weight_decay, nesterov=cfg.nesterov)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    data_gen = make_generator(seed, device)
    augment = Augment(crop_padding=cfg.crop_padding, flip=cfg.flip, cutout=cfg.cutout)
    adv = cfg.adversarial
    # Robust validation uses a fixed attack seed so that "best" compares like with like across epochs.
    val_attack = create_attack("pgd", eps=adv.eps, alpha=adv.alpha, steps=max(adv.steps, 10), seed=seed)
    track_robust = cfg.select_best == "robust" or adv.enabled

    last_path, best_path = run.checkpoints / "last.pt", run.checkpoints / "best.pt"
    history: list[dict[str, Any]] = []
    start_epoch, best_score = 0, -math.inf
    if resume and last_path.exists():
        state = load_checkpoint(last_path, device)
        if state.get("model_spec") != getattr(model, "spec", None):
            raise CheckpointError(f"{last_path} was written for another model; use a new --name or drop --resume")
        model.load_state_dict(state["model_state"])
        optimizer.load_state_dict(state["optimizer_state"])
        scaler.load_state_dict(state["scaler_state"])
        data_gen.set_state(state["data_generator"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
        if on_cuda and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"].cpu())
        start_epoch, best_score, history = state["epoch"], state["best_score"], list(state["history"])
        run.rewrite_metrics(history)
        run.log(f"resuming from {last_path} after epoch {start_epoch}/{cfg.epochs}")

    started = time.perf_counter()
    epochs = tqdm(range(start_epoch, cfg.epochs), desc="train", unit="epoch", disable=quiet,
                  initial=start_epoch, total=cfg.epochs, leave=False)
    for epoch in epochs:
        epoch_start = time.perf_counter()
        lr = cosine_lr(epoch, cfg.epochs, cfg.lr, cfg.lr_min)
        for group in optimizer.param_groups:
            group["lr"] = lr
        set_drop_path_prob(model, drop_path_prob(epoch, cfg.epochs, cfg.drop_path))
        model.train()
        total_loss, total_correct, seen = 0.0, 0, 0
        for step, (x, y) in enumerate(iterate_batches(train_split, cfg.batch_size, shuffle=True,
                                                      generator=data_gen, augment=augment)):
            if adv.enabled:
                # A fresh, reproducible seed per step: a resumed run crafts the same examples.
                attack = create_attack("pgd", eps=adv.eps, alpha=adv.alpha, steps=adv.steps,
                                       random_start=adv.random_start, early_stop=False,
                                       seed=seed * 1_000_003 + epoch * 10_007 + step)
                x = attack(model, x, y)
            x = x.contiguous(memory_format=memory_format)
            autocast = torch.autocast("cuda", dtype=torch.float16) if use_amp else contextlib.nullcontext()
            with autocast:
                loss, logits = _loss(model(x), y, cfg)
            if not torch.isfinite(loss):
                raise TrainingDivergedError(
                    f"training loss became {loss.item()} at epoch {epoch + 1} step {step + 1}; "
                    f"lower the learning rate (--set train.lr={cfg.lr / 10:g}) or enable clipping (train.grad_clip)"
                )
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.grad_clip > 0:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            total_loss += loss.item() * y.shape[0]
            total_correct += (logits.argmax(1) == y).sum().item()
            seen += y.shape[0]

        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "lr": lr,
            "train_loss": total_loss / max(seen, 1),
            "train_acc": total_correct / max(seen, 1),
            "val_acc": clean_accuracy(model, val_split),
        }
        if track_robust:
            record["val_robust_acc"] = robust_accuracy(model, val_split, val_attack)
        record["seconds"] = time.perf_counter() - epoch_start
        history.append(record)

        score = {"last": float(epoch), "clean": record["val_acc"],
                 "robust": record.get("val_robust_acc", 0.0)}[cfg.select_best]
        improved = score > best_score
        best_score = max(best_score, score)
        payload = {
            "model_spec": model.spec,
            "model_state": model.state_dict(),
            "optimizer_state": optimizer.state_dict(),
            "scaler_state": scaler.state_dict(),
            "data_generator": data_gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "epoch": epoch + 1,
            "epochs": cfg.epochs,
            "complete": epoch + 1 == cfg.epochs,
            "best_score": best_score,
            "history": history,
            "train_config": config_to_dict(cfg),
            **(extra or {}),
        }
        if on_cuda:
            payload["cuda_rng"] = torch.cuda.get_rng_state()
        # Order matters for kill -9: the checkpoint is the truth; metrics.jsonl is re-derived from it on resume.
        save_checkpoint(last_path, payload)
        if improved:
            save_checkpoint(best_path, {k: v for k, v in payload.items()
                                        if k not in ("optimizer_state", "scaler_state", "data_generator", "torch_rng")})
        run.append_metrics(record)
        epochs.set_postfix(loss=f"{record['train_loss']:.3f}", val=f"{record['val_acc']:.3f}")
        run.log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))

    if cfg.select_best != "last" and best_path.exists():
        model.load_state_dict(load_checkpoint(best_path, device)["model_state"])
    model.eval()
    return TrainResult(model=model, history=history, last_path=last_path,
                       best_path=best_path if best_path.exists() else None,
                       seconds=time.perf_counter() - started)
