"""``robnas search``: a one-shot supernet search (darts, advrush, rnas) or a black-box discrete search.

Every registered differentiable method (``robnas list methods``) and every registered strategy
(``robnas list strategies``) is accepted, plugins' included. Either kind is checked whole before
the run directory is created, so bad input writes nothing.

**One-shot** (``--method darts|advrush|rnas``): the supernet search of
:mod:`robnas.search.differentiable.resumable` in the run directory (``results/genotype.txt``,
``cells.png``, ``alphas.png``, ``search.json``); ``--resume`` continues it bit-identical.

**Discrete** (``--method nsga2|rs|ls|re|bananas``): space, objectives, strategy and its parameters,
backend, the adversarial set or benchmark, the dataset and a trial build of the network are checked
first. The run directory then holds::

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

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import robnas.bench
import robnas.distributed as distributed
from robnas.adversarial_sets import load_advset
from robnas.backends import check_backend, create_backend
from robnas.bench.lookup import objective_table
from robnas.bench.search_runs import BenchmarkEvaluator, check_coverage
from robnas.config import config_to_dict
from robnas.data import load_dataset
from robnas.device import resolve_device
from robnas.errors import DataError, InvalidValueError, UnknownNameError
from robnas.pipeline.config import RunConfig, written_config
from robnas.report.search_plots import write_search_plots
from robnas.search.differentiable.methods import METHODS
from robnas.search.differentiable.resumable import build_supernet, check_search, search_in_run, split_halves
from robnas.search.discrete import create_strategy
from robnas.search.discrete.objectives import parse_objectives
from robnas.search.discrete.runner import SearchBudget, SearchRunner
from robnas.search.discrete.state import elapsed_before, save_state
from robnas.search.discrete.strategy import STRATEGIES
from robnas.search.discrete.training_evaluator import TrainingEvaluator
from robnas.spaces import get_space
from robnas.store.atomic import write_json_atomic
from robnas.store.results_db import ResultsDB, Slot, budget_key
from robnas.store.run_dir import RunDir


def method_kind(method: str) -> str:
    """``differentiable`` (a one-shot method) or ``discrete`` (a black-box strategy); unknown: one error line."""
    if method in METHODS:
        return "differentiable"
    if method in STRATEGIES:
        return "discrete"
    raise UnknownNameError(f"unknown search method {method!r}; choose a differentiable method "
                           f"({', '.join(METHODS.names())}) or a discrete strategy ({', '.join(STRATEGIES.names())}) "
                           "(`robnas list methods`, `robnas list strategies`)")


def run(cfg: RunConfig) -> Path:
    if method_kind(cfg.search.method) == "differentiable":
        return run_differentiable_search(cfg)
    return run_discrete_search(cfg)


# --- one-shot -----------------------------------------------------------------------------------


def run_differentiable_search(cfg: RunConfig) -> Path:
    """``robnas search`` for the differentiable methods; returns the results directory.

    Under ``torchrun`` every rank runs this; rank 0 alone writes the run directory and the results.
    """
    s = cfg.search
    check_search(s.space, s.method, s.differentiable)
    world, device = distributed.setup(resolve_device(cfg.device))
    distributed.check_batch_size(s.differentiable.batch_size, "search.differentiable.batch_size", world)
    dataset = load_dataset(cfg.data.name, root=cfg.data.root, device=device, train_size=cfg.data.train_size,
                           test_size=cfg.data.test_size, seed=cfg.seed)
    split_halves(dataset.train, s.differentiable, cfg.seed)  # a train_size larger than the split fails here
    build_supernet(s.space, s.differentiable, dataset.num_classes, dataset.in_channels, dataset.mean, dataset.std)
    run = RunDir.create(cfg.out, cfg.name, "search", quiet=cfg.quiet)
    run.write_config(written_config(cfg))
    search_in_run(run, dataset, s.space, s.method, s.differentiable, seed=cfg.seed, threads=cfg.threads,
                  resume=cfg.resume, quiet=cfg.quiet)
    return run.results


# --- discrete -----------------------------------------------------------------------------------


@dataclass
class SearchPlan:
    """The validated pieces of a discrete search (built before anything is written)."""

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
    manifest = load_advset(path).manifest  # missing, corrupt or edited sets fail here
    if manifest["dataset"] != cfg.data.name:
        raise InvalidValueError(f"adversarial set {path} was built on {manifest['dataset']}, the search uses "
                                f"{cfg.data.name}; use a set of the same dataset")


def plan_search(cfg: RunConfig) -> SearchPlan:
    """Validate the whole search configuration; raises one-line errors and writes nothing."""
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
    evaluator.check_build()
    return SearchPlan(space, names, evaluator, evaluator.budget(), cfg.data.name)


def _plan_tabular(cfg: RunConfig, space: Any) -> SearchPlan:
    """Tabular mode: the objectives are looked up in the benchmark ``search.discrete.table``."""
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


def _identity(cfg: RunConfig, plan: SearchPlan) -> dict[str, Any]:
    return {"method": cfg.search.method.lower(), "space": cfg.search.space, "seed": cfg.seed,
            "objectives": plan.objectives, "strategy": dict(cfg.search.discrete.strategy),
            "budget": budget_key(plan.budget)}


def run_discrete_search(cfg: RunConfig) -> Path:
    """Run (or resume) a discrete search; returns the results directory."""
    plan = plan_search(cfg)
    d = cfg.search.discrete
    identity = _identity(cfg, plan)
    run_path = Path(cfg.out) / cfg.name if cfg.name else None
    elapsed = elapsed_before(run_path, identity, cfg.resume) if run_path is not None else 0.0

    run = RunDir.create(cfg.out, cfg.name, "search", quiet=cfg.quiet)
    run.write_config(written_config(cfg))
    db_path = Path(d.db) if d.db else run.path / "results.db"
    db = ResultsDB(db_path)
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
    runner = SearchRunner(strategy, plan.space, plan.evaluator, db, slot, backend, plan.objectives,
                          budget=SearchBudget(d.evaluations, d.max_seconds), run_name=run.path.name,
                          log=run.log, quiet=cfg.quiet, elapsed_before=elapsed,
                          on_batch=lambda stats: save_state(run.path, identity, stats))
    try:
        stats = runner.run()
    finally:
        backend.close()
    summary = {"method": cfg.search.method.lower(), "space": cfg.search.space, "dataset": plan.dataset,
               "objectives": plan.objectives, "seed": cfg.seed, "budget": plan.budget, **runner.cost(),
               "database": str(db_path)}
    db.export_csv(run.results / "evaluations.csv", space=slot.space, dataset=slot.dataset, budget=slot.budget,
                  seed=slot.seed)
    db.close()
    write_json_atomic(run.results / "search.json", summary)
    write_json_atomic(run.results / "best.json", runner.best(d.top_k))
    rows = [(t.arch, t.metrics) for t in runner.history]
    for path in write_search_plots(run.results, rows, plan.objectives, cfg.search.method.lower()):
        run.log(f"wrote {path}")
    run.log(f"{stats.stopped}: {summary['evaluations']} evaluations ({summary['computed']} computed, "
            f"{summary['cache_hits']} from the database, {summary['failed']} failed) in {summary['wall_seconds']:.1f}s")
    return run.results
