"""``robnas bench design BENCH``: the design study (:mod:`robnas.bench.design_study`) in a run directory."""

from __future__ import annotations

from pathlib import Path

import robnas.bench
from robnas.bench import design_study as study
from robnas.bench.study_report import write_study_report
from robnas.pipeline.bench.common import benchmark_source, open_run
from robnas.pipeline.config import RunConfig


def run(cfg: RunConfig) -> Path:
    source = benchmark_source(cfg)
    with robnas.bench.open(source) as bench:
        p = study.plan(cfg.bench.design, bench)
        run_dir = open_run(cfg)
        section = study.write(p, bench, run_dir.results, run_dir.log)
        write_study_report(run_dir, f"Design analysis: {bench.name}", [section])
    return run_dir.results
