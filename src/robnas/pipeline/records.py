"""A model's evaluation record inside a run directory: the unit of resume of ``robnas run`` and ``robnas eval``.

Each finished evaluation is written atomically to ``results/records/<label>.json``; a resumed run
reads it back instead of training or attacking that model again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

from robnas import distributed
from robnas.pipeline.config import RunConfig
from robnas.data import Dataset
from robnas.evaluation import evaluate, protocol_for
from robnas.evaluation.record import row_from_json, row_to_json
from robnas.pipeline.models import describe, tune_threads
from robnas.store.atomic import write_json_atomic
from robnas.store.run_dir import RunDir


def record_path(run: RunDir, label: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
    return run.results / "records" / f"{safe}.json"


def cached_record(run: RunDir, label: str, resume: bool) -> dict[str, Any] | None:
    """A model's finished evaluation from an earlier attempt of this run (``--resume``)."""
    path = record_path(run, label)
    if resume and path.exists():
        run.log(f"{label}: already evaluated, reading {path}")
        return row_from_json(json.loads(path.read_text()))
    return None


def attack_and_record(run: RunDir, label: str, model: nn.Module, dataset: Dataset, cfg: RunConfig,
                      **extra: Any) -> dict[str, Any]:
    """Evaluate one model with the ``[eval]`` protocol and store its row atomically (the unit of resume)."""
    tune_threads(model, dataset, cfg)
    what = (f"protocol {cfg.eval.protocol}" if cfg.eval.protocol else
            f"{', '.join(cfg.eval.attacks)} at eps {[e.label for e in cfg.eval.eps]}")
    run.log(f"{label}: evaluating ({what}{' + corruptions' if cfg.eval.corruptions else ''})")
    record = evaluate(model, dataset.test, protocol_for(cfg.eval), dataset.num_classes, seed=cfg.seed,
                      batch_size=cfg.eval.batch_size, quiet=cfg.quiet, reliability=cfg.eval.reliability)
    row = {"label": label, "model": model.spec["name"], "kwargs": model.spec["kwargs"], **extra,
           **describe(model, dataset), "evaluation": record}
    if distributed.current().is_main:  # data-parallel evaluation: every rank has the record, rank 0 writes it
        write_json_atomic(record_path(run, label), row_to_json(row))
    return row
