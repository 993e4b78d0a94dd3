"""``robnas ensemble``: random-cell ensembles against single random and published cells (Devaguptapu et al. Table 6).

The experiment is the library's (:mod:`robnas.ensembles`); this job turns the run config into its
settings, validates them before the run directory exists, and writes the reports: ``results/ensemble.md``
(Table 6 and the sampled genotypes), ``results/table.md`` / ``results.json`` (every network's row).
Every network trains in ``networks/<label>/`` of the run directory; ``--resume`` continues there.
"""

from __future__ import annotations

from pathlib import Path

from robnas.data.prepare import prepare_data
from robnas.device import resolve_device
from robnas.ensembles import Experiment, check_experiment, run_experiment
from robnas.evaluation import protocol_for
from robnas.models.ensemble import check_cells
from robnas.pipeline.config import RunConfig, written_config
from robnas.report import write_robustness_report
from robnas.report.ensemble_report import write_ensemble_report
from robnas.store.run_dir import RunDir


def experiment(cfg: RunConfig) -> Experiment:
    """The experiment of a run config: its [ensemble], [data], [train] and [eval] sections, seed, device, threads."""
    return Experiment(cfg.ensemble, cfg.data, cfg.train, cfg.eval, seed=cfg.seed, device=cfg.device,
                      threads=cfg.threads)


def run(cfg: RunConfig) -> Path:
    """Table 6 of Devaguptapu et al. as one job; returns the results directory."""
    protocol_for(cfg.eval)  # validates the [eval] section before anything is written
    check_cells(cfg.ensemble.cells, cfg.ensemble.total_cells)  # the cheap check first, before loading data
    device = resolve_device(cfg.device)
    data = prepare_data(cfg.data, device, cfg.seed)
    exp = experiment(cfg)
    check_experiment(exp, data)
    run_dir = RunDir.create(cfg.out, cfg.name, "ensemble", quiet=cfg.quiet)
    run_dir.write_config(written_config(cfg))
    run_dir.log(f"run directory {run_dir.path} on {device}; dataset {data.dataset.name}: "
                f"{len(data.train)} train / {len(data.val)} val / {len(data.dataset.test)} test")
    plan, rows = run_experiment(exp, run_dir, resume=cfg.resume)
    run_dir.log(f"wrote {write_ensemble_report(run_dir.results, exp, plan, rows, data.dataset.name)}")
    meta = {"dataset": data.dataset.name, "norm": cfg.eval.norm, "seed": cfg.seed}
    report_rows = [rows[label] for label in plan.labels]
    for path in write_robustness_report(run_dir.results, report_rows, meta, baseline=cfg.eval.baseline):
        run_dir.log(f"wrote {path}")
    return run_dir.results
