"""``robnas landscape``: the input loss landscape (AdvRush Figure 3) of checkpoints or registered models.

Writes ``results/landscape.json`` (every model's grid) and ``results/landscape.png`` (one column per
model, same loss scale). The settings are the run config's ``[landscape]`` section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from robnas.pipeline.config import LandscapeConfig, RunConfig, written_config
from robnas.data import Dataset
from robnas.evaluation.landscape import check_landscape_args, input_loss_landscape
from robnas.pipeline.models import gather_models, require_models, tune_threads
from robnas.report.landscape_plot import write_landscape_report
from robnas.store.run_dir import RunDir


def model_landscape(model: nn.Module, dataset: Dataset, cfg: LandscapeConfig, seed: int) -> dict[str, Any]:
    """One model's landscape over the first ``cfg.points`` test points, as JSON-able data."""
    return input_loss_landscape(model, dataset.test, points=cfg.points, eps_range=cfg.eps_range,
                                resolution=cfg.resolution, seed=seed, per_point=cfg.per_point).to_dict()


def run(cfg: RunConfig) -> Path:
    lc = cfg.landscape
    check_landscape_args(lc.points, lc.eps_range, lc.resolution)
    data, entries = gather_models(cfg)
    require_models(entries, "landscape")
    run_dir = RunDir.create(cfg.out, cfg.name, "landscape", quiet=cfg.quiet)
    run_dir.write_config(written_config(cfg))
    grids: list[tuple[str, dict[str, Any]]] = []
    for label, model in entries:
        tune_threads(model, data, cfg)
        grid = model_landscape(model, data, lc, cfg.seed)
        centre = grid["loss"][lc.resolution // 2]
        run_dir.log(f"{label}: clean loss {grid['clean_loss']:.4f}; along the gradient sign at +-{lc.eps_range:.4g}: "
                    f"{grid['loss'][-1][lc.resolution // 2]:.4f} / {grid['loss'][0][lc.resolution // 2]:.4f}; "
                    f"along the random direction: {centre[-1]:.4f} / {centre[0]:.4f}")
        grids.append((label, grid))
    for path in write_landscape_report(run_dir.results, grids, {"dataset": data.name, "seed": cfg.seed}):
        run_dir.log(f"wrote {path}")
    return run_dir.results
