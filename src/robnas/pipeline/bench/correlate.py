"""``robnas bench correlate BENCH [--against B]``: the rank-correlation study (:mod:`robnas.bench.correlation_study`)
or the agreement of two benchmarks, in a run directory."""

from __future__ import annotations

from pathlib import Path

import robnas.bench
from robnas.bench import correlation_study as study
from robnas.bench.study_report import write_study_report
from robnas.pipeline.bench.common import benchmark_source, check_backend_settings, make_backend, open_run
from robnas.pipeline.config import RunConfig


def run_against(cfg: RunConfig, bench: robnas.bench.Benchmark, other: str) -> Path:
    """``--against B``: the rank agreement of this benchmark with B on their shared architectures."""
    study.check_agreement_settings(cfg.bench.correlate)
    source_b = str(Path(other).resolve()) if Path(other).is_file() else other
    with robnas.bench.open(source_b) as against:
        study.agreement.shared(bench, against)  # mismatched benchmarks fail here, before the run directory
        run_dir = open_run(cfg)
        section = study.write_agreement(cfg.bench.correlate, bench, against, cfg.seed, run_dir.results)
        write_study_report(run_dir, f"Rank agreement: {bench.name} against {against.name}", [section])
    return run_dir.results


def run(cfg: RunConfig) -> Path:
    source = benchmark_source(cfg)
    with robnas.bench.open(source) as bench:
        if cfg.bench.correlate.against:
            return run_against(cfg, bench, cfg.bench.correlate.against)
        check_backend_settings(cfg)
        p = study.plan(cfg.bench.correlate, bench, cfg.seed)
        run_dir = open_run(cfg)
        with make_backend(cfg) as backend:
            section = study.write(p, bench, run_dir.results, backend, run_dir.log)
        write_study_report(run_dir, f"Rank correlation study: {bench.name}", [section])
    return run_dir.results
