"""``robnas eval``: attack trained checkpoints and freshly initialised registered models; Table 1 report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import robnas.distributed as distributed
from robnas.device import resolve_device
from robnas.pipeline.config import RunConfig, written_config
from robnas.evaluation import check_evaluable, protocol_for
from robnas.evaluation.row_store import evaluate_into, saved_row
from robnas.pipeline.models import gather_models, require_models
from robnas.report import write_robustness_report
from robnas.report.table import check_baseline
from robnas.store.run_dir import RunDir


def run(cfg: RunConfig) -> Path:
    """Evaluate every checkpoint and model with the configured protocol; returns the results directory.

    Under ``torchrun`` every rank runs this: the ranks share each model's attack cells and corruptions
    (:func:`robnas.evaluation.evaluate`), and rank 0 alone writes the records and the report.
    """
    protocol = protocol_for(cfg.eval)  # validates the [eval] section before anything is written
    world, _ = distributed.setup(resolve_device(cfg.device))
    data, entries = gather_models(cfg)
    require_models(entries, "eval")
    check_baseline(cfg.eval.baseline, [label for label, _ in entries])
    for _, model in entries:
        check_evaluable(model, protocol)

    run_dir = RunDir.create(cfg.out, cfg.name, "eval", quiet=cfg.quiet)
    run_dir.write_config(written_config(cfg))
    rows: list[dict[str, Any]] = []
    for label, model in entries:
        rows.append(saved_row(run_dir, label, cfg.resume)
                    or evaluate_into(run_dir, label, model, data, cfg.eval, seed=cfg.seed, threads=cfg.threads,
                                     quiet=cfg.quiet))
    if not world.is_main:
        return run_dir.results
    meta = {"dataset": data.name, "norm": cfg.eval.norm, "seed": cfg.seed}
    for path in write_robustness_report(run_dir.results, rows, meta, baseline=cfg.eval.baseline):
        run_dir.log(f"wrote {path}")
    return run_dir.results
