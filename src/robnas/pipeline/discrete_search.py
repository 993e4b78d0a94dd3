"""``robnas search --method nsga2|rs|ls|re|bananas``: a discrete robust architecture search as a job.

Everything the search needs -- space, objectives, strategy and its parameters, backend, the
adversarial set or benchmark, the dataset and a trial build of the network -- is checked
before the run directory is created, so bad input writes nothing. The run directory then holds::

    results.db              every evaluation (or the database at search.discrete.db)
    search_state.json       what search this is and the wall time spent (for --resume)
    results/search.json     the search's cost: wall time, evaluations, cache hits, mean evaluation time
    results/evaluations.csv every row of this search's budget in the database (export)
    results/best.json       the best architectures (Pareto set, or the top k of one objective)
    results/pareto.csv|png  the non-dominated evaluations (CSV) and every evaluation with the front marked (PNG)
    results/best_so_far.png

``--resume`` re-creates the strategy with the same seed and replays the search against the
database: completed evaluations are read back (never redone), the rest are evaluated.

Tabular mode (``search.discrete.table``, a benchmark file or a shipped name) looks every objective up
in the benchmark in this process (a lookup is cheaper than shipping it to a worker); the lookups are
recorded in the database like evaluations.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robnas.config import config_to_dict
from robnas.pipeline.config import RunConfig, written_config
from robnas.errors import DataError, InvalidValueError
from robnas.store.atomic import write_json_atomic
from robnas.store.results_db import ResultsDB, Slot, budget_key
from robnas.store.run_dir import RunDir

STATE_FILE = "search_state.json"


@dataclass
class SearchPlan:
    """The validated pieces of a search (built before anything is written)."""

    space: Any
    objectives: list[str]
    evaluator: Any
    budget: dict[str, Any]
    dataset: str                # the data the numbers are about (a benchmark's own dataset in tabular mode)
    tabular: bool = False       # answered by a benchmark (looked up in this process) instead of trained


def _check_budget(cfg: RunConfig) -> None:
    d = cfg.search.discrete
    if d.evaluations < 0 or d.max_seconds < 0:
        raise InvalidValueError(f"search budget must be >= 0 (0 = no limit), got evaluations={d.evaluations}, "
                                f"max_seconds={d.max_seconds}")
    if d.top_k < 1:
        raise InvalidValueError(f"search.discrete.top_k must be >= 1, got {d.top_k}")


def _check_advset(path: str | None, names: list[str], cfg: RunConfig) -> None:
    if "advset_error" not in names:
        return
    if not path:
        raise InvalidValueError("objective advset_error needs a pre-generated adversarial set: "
                                "--set search.discrete.advset=DIR (build one with `robnas advset build`)")
    from robnas.adversarial_sets import load_advset

    manifest = load_advset(path).manifest  # missing, corrupt or edited sets fail here
    if manifest["dataset"] != cfg.data.name:
        raise InvalidValueError(f"adversarial set {path} was built on {manifest['dataset']}, the search uses "
                                f"{cfg.data.name}; use a set of the same dataset")


def plan_search(cfg: RunConfig) -> SearchPlan:
    """Validate the whole search configuration; raises one-line errors and writes nothing."""
    from robnas.search.discrete import create_strategy
    from robnas.backends import check_backend
    from robnas.search.discrete.training_evaluator import TrainingEvaluator
    from robnas.search.discrete.objectives import parse_objectives
    from robnas.spaces import get_space

    d = cfg.search.discrete
    _check_budget(cfg)
    space = get_space(cfg.search.space, **d.space_params)
    if d.table:
        return _plan_tabular(cfg, space)
    names = [o.name for o in parse_objectives(d.objectives, cfg.eval)]
    create_strategy(cfg.search.method.lower(), space, names, cfg.seed, **d.strategy)  # bad parameters fail here
    check_backend(d.backend, d.workers, d.address)
    _check_advset(d.advset, names, cfg)
    evaluator = TrainingEvaluator(
        space=cfg.search.space, objectives=tuple(names), data=config_to_dict(cfg.data),
        train=config_to_dict(cfg.train), eval=config_to_dict(cfg.eval), build_kwargs=dict(d.build),
        space_params=dict(d.space_params), advset=str(Path(d.advset).resolve()) if d.advset else None,
        seed=cfg.seed if d.eval_seed is None else d.eval_seed, device=cfg.device, threads=cfg.threads)
    _trial_build(evaluator, space, cfg)
    return SearchPlan(space, names, evaluator, evaluator.budget(), cfg.data.name)


def _plan_tabular(cfg: RunConfig, space: Any) -> SearchPlan:
    """Tabular mode: the objectives are looked up in the benchmark ``search.discrete.table``."""
    import robnas.bench
    from robnas.bench.lookup import objective_table
    from robnas.search.discrete import create_strategy
    from robnas.bench.search_runs import check_coverage
    from robnas.bench.search_runs import BenchmarkEvaluator

    d = cfg.search.discrete
    source = Path(d.table)
    if source.is_dir():
        raise DataError(f"search.discrete.table={d.table} is a directory; tabular mode reads a benchmark file or a "
                        f"shipped name: import a robustness-dataset directory first with `robnas bench import "
                        f"{d.table} FILE`")
    bench_source = str(source.resolve()) if source.is_file() else d.table
    with robnas.bench.open(bench_source) as bench:  # a missing or corrupt file fails here, in one line
        if bench.space != cfg.search.space:
            raise InvalidValueError(f"benchmark {bench.name} is over the {bench.space} space, the search over "
                                    f"{cfg.search.space}; pass --space {bench.space}")
    if not d.objectives:
        raise InvalidValueError("a search needs at least one objective, e.g. --objectives clean_error,flops")
    table = objective_table(bench_source, tuple(d.objectives))
    if len(set(table.objectives)) != len(table.objectives):
        raise InvalidValueError(f"objectives repeat: {', '.join(table.objectives)}")
    names = list(table.objectives)
    create_strategy(cfg.search.method.lower(), space, names, cfg.seed, **d.strategy)  # bad parameters fail here
    check_coverage(space, table)
    evaluator = BenchmarkEvaluator(bench=bench_source, space=cfg.search.space, objectives=tuple(names),
                                   space_params=dict(d.space_params))
    return SearchPlan(space, names, evaluator, evaluator.budget(), table.dataset, tabular=True)


def _trial_build(evaluator: Any, space: Any, cfg: RunConfig) -> None:
    """Load the data and build one random network, so a bad dataset or network kwarg fails now."""
    import torch

    from robnas.data import load_dataset

    dataset = load_dataset(cfg.data.name, root=cfg.data.root, device="cpu", train_size=cfg.data.train_size,
                           test_size=cfg.data.test_size, seed=cfg.seed)
    with torch.random.fork_rng(devices=[]):
        space.build(space.sample(random.Random(cfg.seed)), num_classes=dataset.num_classes,
                    in_channels=dataset.in_channels, mean=dataset.mean, std=dataset.std, **evaluator.build_kwargs)


def _identity(cfg: RunConfig, plan: SearchPlan) -> dict[str, Any]:
    return {"method": cfg.search.method.lower(), "space": cfg.search.space, "seed": cfg.seed,
            "objectives": plan.objectives, "strategy": dict(cfg.search.discrete.strategy),
            "budget": budget_key(plan.budget)}


def _resume_state(run_path: Path, identity: dict[str, Any], resume: bool) -> float:
    """Wall seconds spent by earlier invocations; refuses to resume a different search."""
    path = run_path / STATE_FILE
    if not resume or not path.exists():
        return 0.0
    import json

    state = json.loads(path.read_text())
    changed = [k for k, v in identity.items() if state.get("identity", {}).get(k) != v]
    if changed:
        raise InvalidValueError(f"--resume: run {run_path} was a different search ({', '.join(changed)} changed); "
                                "use the same settings or a new --name")
    return float(state.get("wall_seconds", 0.0))


def run_discrete_search(cfg: RunConfig) -> Path:
    """Run (or resume) a discrete search; returns the results directory."""
    from robnas.search.discrete import create_strategy
    from robnas.backends import create_backend
    from robnas.search.discrete.runner import SearchBudget, SearchRunner

    plan = plan_search(cfg)
    d = cfg.search.discrete
    identity = _identity(cfg, plan)
    run_path = Path(cfg.out) / cfg.name if cfg.name else None
    elapsed = _resume_state(run_path, identity, cfg.resume) if run_path is not None else 0.0

    run = RunDir.create(cfg.out, cfg.name, "search", quiet=cfg.quiet)
    run.write_config(written_config(cfg))
    db_path = Path(d.db) if d.db else run.path / "results.db"
    db = ResultsDB(db_path)
    evaluator = plan.evaluator
    if plan.tabular:
        run.log(f"tabular mode: objectives looked up in benchmark {d.table} ({plan.dataset})")
    slot = Slot(cfg.search.space, plan.dataset, budget_key(plan.budget),
                cfg.seed if d.eval_seed is None else d.eval_seed)
    strategy = create_strategy(cfg.search.method.lower(), plan.space, plan.objectives, cfg.seed, **d.strategy)
    backend = create_backend("inprocess" if plan.tabular else d.backend, d.workers, d.address)
    run.log(f"{cfg.search.method} search over {cfg.search.space} on {plan.dataset}: objectives "
            f"{', '.join(plan.objectives)}; budget {d.evaluations or 'unlimited'} evaluations"
            f"{f', {d.max_seconds:g}s' if d.max_seconds else ''}; backend {backend.name} x{backend.slots}; "
            f"database {db_path}{' (resuming)' if cfg.resume else ''}")

    def save_state(stats: Any) -> None:
        write_json_atomic(run.path / STATE_FILE, {"identity": identity, "wall_seconds": stats.wall_seconds,
                                                  "evaluations": stats.evaluations})

    runner = SearchRunner(strategy, plan.space, evaluator, db, slot, backend, plan.objectives,
                          budget=SearchBudget(d.evaluations, d.max_seconds), run_name=run.path.name,
                          log=run.log, quiet=cfg.quiet, elapsed_before=elapsed, on_batch=save_state)
    try:
        stats = runner.run()
    finally:
        backend.close()
    summary = _summary(cfg, plan, runner, db, slot, backend, db_path)
    db.export_csv(run.results / "evaluations.csv", space=slot.space, dataset=slot.dataset, budget=slot.budget,
                  seed=slot.seed)
    db.close()
    write_json_atomic(run.results / "search.json", summary)
    best = _best(strategy, plan, d.top_k)
    write_json_atomic(run.results / "best.json", best)
    for path in _plots(run.results, runner.history, plan.objectives, cfg.search.method.lower()):
        run.log(f"wrote {path}")
    run.log(f"{stats.stopped}: {summary['evaluations']} evaluations ({summary['computed']} computed, "
            f"{summary['cache_hits']} from the database, {summary['failed']} failed) in {summary['wall_seconds']:.1f}s")
    return run.results


def _summary(cfg: RunConfig, plan: SearchPlan, runner: Any, db: ResultsDB, slot: Slot, backend: Any,
             db_path: Path) -> dict[str, Any]:
    """The search's own cost, counted over all invocations of this run from the database."""
    stats = runner.stats
    keys = [t.key for t in runner.history]
    records = db.get_many(slot, keys)
    ours = [records[k] for k in dict.fromkeys(keys) if k in records and records[k].run == runner.run_name]
    seconds = [r.seconds for r in ours if r.seconds is not None]
    return {
        "method": cfg.search.method.lower(), "space": cfg.search.space, "dataset": plan.dataset,
        "objectives": plan.objectives, "seed": cfg.seed, "budget": plan.budget,
        "evaluations": len(keys), "computed": len(ours), "cache_hits": len(keys) - len(ours),
        "failed": sum(t.status != "done" for t in runner.history),
        "mean_eval_seconds": statistics.fmean(seconds) if seconds else None,
        "wall_seconds": stats.wall_seconds, "stopped": stats.stopped,
        "this_invocation": {"computed": stats.computed, "answered_by_database": stats.cache_hits,
                            "eval_seconds": stats.eval_seconds},
        "backend": backend.describe(), "database": str(db_path),
    }


def _best(strategy: Any, plan: SearchPlan, top_k: int) -> dict[str, Any]:
    pareto = bool(getattr(strategy, "multi_objective", False)) and len(plan.objectives) > 1
    chosen = strategy.best() if pareto else strategy.best()[:top_k]
    return {"objectives": plan.objectives, "kind": "pareto set" if pareto else f"top {top_k} by {plan.objectives[0]}",
            "architectures": [{"arch": arch, "key": plan.space.key(arch), "metrics": metrics}
                              for arch, metrics in chosen]}


def _plots(results: Path, history: list[Any], objectives: list[str], method: str) -> list[Path]:
    """pareto.csv (the non-dominated evaluations; for one objective its minimum), pareto.png (2 or 3
    objectives: one panel per pair) and best_so_far.png (the first objective's running minimum)."""
    from robnas.report.search_plots import plot_best_so_far, plot_front, write_front_csv

    rows = [(t.arch, t.metrics) for t in history]
    if not rows:
        return []
    paths = [write_front_csv(rows, objectives, results / "pareto.csv")]
    if len(objectives) in (2, 3):
        paths.append(plot_front(rows, objectives, results / "pareto.png",
                                title=f"{method}: evaluated architectures and the Pareto front"))
    paths.append(plot_best_so_far({method: [[m[objectives[0]] for _, m in rows]]}, objectives[0],
                                  results / "best_so_far.png"))
    return paths
