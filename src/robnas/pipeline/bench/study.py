"""``robnas bench study BENCH``: the rank-correlation study, NAS on the benchmark and the design
analysis in one run, with one ``results/report.md`` holding every table and figure.

The three parts share the settings of their own actions (``bench.correlate``, ``bench.nas``,
``bench.design``), one execution backend (started once) and one reference radius: the radius of
the NAS objective (by default FGSM at the benchmark's reference radius), at which the correlation
summary and the design figures show the attacks. Everything is validated before the run directory
is created. The report opens with the README-ready main results (``main_table.md``): the NAS table
of the first objective and the predictors ranked by their tau against that objective's accuracy.
"""

from __future__ import annotations

import time
from pathlib import Path

import robnas.bench
from robnas.bench import correlate as correlate_lib
from robnas.bench import correlation_study as correlate
from robnas.bench import design_study as design
from robnas.bench import nas_study as nas
from robnas.bench.study_report import Section, write_study_report
from robnas.pipeline.bench.common import benchmark_source, check_backend_settings, make_backend, open_run
from robnas.pipeline.config import RunConfig
from robnas.store.atomic import write_text_atomic


def _target_column(p: correlate.CorrelationPlan, objective: str) -> str | None:
    """The correlation target matching the NAS objective (its accuracy column), if there is one."""
    group = p.groups[0]
    if objective == "clean_error":
        return "clean"
    if objective == "corruption_error:mean":
        return "corruption mean"
    if objective.startswith("robust_error:"):
        attack, _, eps = objective.removeprefix("robust_error:").rpartition("@")
        for c in group.columns:
            if c.kind == "attack" and c.eps == eps and attack in (c.group, c.key, c.key.removeprefix("aa_"),
                                                                 c.key.split("@")[0]):
                return c.label
    return None


def run(cfg: RunConfig) -> Path:
    source = benchmark_source(cfg)
    with robnas.bench.open(source) as bench:
        check_backend_settings(cfg)
        b = cfg.bench
        nas_plan = nas.plan(b.nas, bench, source, cfg.seed, cfg.device, cfg.data.root)
        correlate_plan = correlate.plan(b.correlate, bench, cfg.seed, nas_plan.radius)
        design_plan = design.plan(b.design, bench, nas_plan.radius)
        run_dir = open_run(cfg)
        timings = {}
        with make_backend(cfg) as backend:
            started = time.perf_counter()
            correlation = correlate.write(correlate_plan, bench, run_dir.results, backend, run_dir.log)
            timings["correlate"] = time.perf_counter() - started
            started = time.perf_counter()
            search = nas.write(nas_plan, bench, run_dir.results, run_dir.path / "differentiable", backend, run_dir.log)
            timings["nas"] = time.perf_counter() - started
        started = time.perf_counter()
        designed = design.write(design_plan, bench, run_dir.results, run_dir.log)
        timings["design"] = time.perf_counter() - started
        block = nas_plan.blocks[0]
        main = [f"**NAS on {block.objective.name}** ({bench.name}; accuracy % of the found architectures, mean over "
                "runs, standard error in brackets):", "", nas.lib.markdown(block.table) if block.table else ""]
        column = _target_column(correlate_plan, block.objective.name)
        if column is not None:
            main += [f"**Which predictors rank architectures by {column} accuracy** ({bench.name}, all "
                     f"{len(correlate_plan.groups[0].archs)} architectures):", "",
                     correlate_lib.ranking_markdown(correlate_plan.groups[0], column), correlate_lib.ORIENTATION_NOTE]
        main_text = "\n".join(main)
        write_text_atomic(run_dir.results / "main_table.md", main_text + "\n")
        intro = (f"Benchmark {bench.name}: {len(bench)} {bench.space} architectures on {bench.dataset}. Parts: "
                 + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items()) + f" (backend {cfg.bench.backend}).")
        write_study_report(run_dir, f"Benchmark study: {bench.name}",
                     [Section("Main results", main_text), correlation, search, designed], intro)
        run_dir.log("study: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    return run_dir.results
