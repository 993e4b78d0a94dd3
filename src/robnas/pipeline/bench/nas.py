"""``robnas bench nas BENCH``: the NAS study of a benchmark (:mod:`robnas.bench.nas_study`) in a run directory.

Writes to ``results/``: ``nas_table.md``, ``nas.json``, ``nas_anytime[_<k>].png`` and ``report.md``; each
differentiable search keeps its own run directory under ``differentiable/``.
"""

from __future__ import annotations

from pathlib import Path

import robnas.bench
from robnas.bench import nas_study
from robnas.bench.study_report import write_study_report
from robnas.pipeline.bench.common import benchmark_source, check_backend_settings, make_backend, open_run
from robnas.pipeline.config import RunConfig


def run(cfg: RunConfig) -> Path:
    source = benchmark_source(cfg)
    with robnas.bench.open(source) as bench:
        check_backend_settings(cfg)
        p = nas_study.plan(cfg.bench.nas, bench, source, cfg.seed, cfg.device, cfg.data.root)
        run_dir = open_run(cfg)
        with make_backend(cfg) as backend:
            section = nas_study.write(p, bench, run_dir.results, run_dir.path / "differentiable", backend, run_dir.log)
        write_study_report(run_dir, f"NAS on a benchmark: {bench.name}", [section])
    return run_dir.results
