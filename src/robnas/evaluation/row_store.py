"""A model's evaluation row kept in a run directory: ``results/records/<label>.json``, the unit of resume.

A row is a model's description (label, registered name and kwargs, parameters, FLOPs and whatever the
caller adds) with its :class:`EvaluationRecord` under ``evaluation``. :func:`evaluate_into` evaluates
a model with the ``[eval]`` settings and writes its row atomically the moment it is done; a resumed
run reads it back with :func:`saved_row` instead of attacking that model again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

import robnas.distributed as distributed
from robnas.data import Dataset
from robnas.evaluation.engine import evaluate
from robnas.evaluation.named_protocols import protocol_for
from robnas.evaluation.record import row_from_json, row_to_json
from robnas.evaluation.settings import EvalConfig
from robnas.metrics import count_flops, count_params
from robnas.store.atomic import write_json_atomic
from robnas.store.run_dir import RunDir
from robnas.threads import apply_threads


def row_path(run: RunDir, label: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
    return run.results / "records" / f"{safe}.json"


def saved_row(run: RunDir, label: str, resume: bool) -> dict[str, Any] | None:
    """A model's finished evaluation from an earlier attempt of this run (only when resuming)."""
    path = row_path(run, label)
    if resume and path.exists():
        run.log(f"{label}: already evaluated, reading {path}")
        return row_from_json(json.loads(path.read_text()))
    return None


def describe(model: nn.Module, dataset: Dataset) -> dict[str, Any]:
    """The model's size as a row states it: parameters and forward FLOPs per sample."""
    shape = (dataset.in_channels, *dataset.image_size)
    return {"params": count_params(model), "flops": count_flops(model, shape)}


def evaluate_into(run: RunDir, label: str, model: nn.Module, dataset: Dataset, settings: EvalConfig, *,
                  seed: int = 0, threads: int = 0, quiet: bool = False, **extra: Any) -> dict[str, Any]:
    """Evaluate one model on ``dataset.test`` with the ``[eval]`` settings and store its row atomically.

    ``threads`` is the CPU thread request (0: one thread for a small network, see :mod:`robnas.threads`);
    ``extra`` goes into the row (training time, checkpoint, genotype ...). Under ``torchrun`` every rank
    gets the row and rank 0 writes it.
    """
    size = describe(model, dataset)
    apply_threads(dataset.test.images.device, size["flops"], threads)
    what = (f"protocol {settings.protocol}" if settings.protocol else
            f"{', '.join(settings.attacks)} at eps {[e.label for e in settings.eps]}")
    run.log(f"{label}: evaluating ({what}{' + corruptions' if settings.corruptions else ''})")
    record = evaluate(model, dataset.test, protocol_for(settings), dataset.num_classes, seed=seed,
                      batch_size=settings.batch_size, quiet=quiet, reliability=settings.reliability)
    row = {"label": label, "model": model.spec["name"], "kwargs": model.spec["kwargs"], **extra, **size,
           "evaluation": record}
    if distributed.current().is_main:
        write_json_atomic(row_path(run, label), row_to_json(row))
    return row
