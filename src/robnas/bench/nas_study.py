"""The NAS study of a benchmark (``robnas bench nas``): discrete strategies and differentiable searches judged on it.

Every strategy of ``bench.nas.strategies`` (RS, LS, RE, BANANAS; NSGA-II on the objective and
``second_objective``) runs ``runs`` times for ``queries`` lookups on each objective of
``bench.nas.objectives`` (default: FGSM error at the benchmark's reference radius, then clean
error: the two searches of Jung et al.'s Table 1; NSGA-II is skipped, with a note, on an objective
equal to its second one). Run ``i`` is seeded from (``seed``, ``i``) only, so the numbers do not
depend on ``--backend`` or ``--workers``. The differentiable methods (``darts``, ``advrush``,
``rnas``) search the space's supernet ``differentiable_seeds`` times on the benchmark's dataset, with
the network size and training subset of its recipe, and their derived cells are looked up.

Writes to ``results/``: ``nas_table.md`` (Jung et al.'s Table 1 layout per objective: mean accuracy
of the found architectures with the standard error, and the benchmark's optimum), ``nas.json``
(every run's found architecture, the tables, the comparison with random search, the differentiable
searches), ``nas_anytime[_<k>].png`` and ``report.md``; each differentiable search keeps its own run
directory under ``differentiable/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from robnas.bench import measurements as m
from robnas.bench import nas as lib
from robnas.bench.benchmark import Benchmark
from robnas.bench.lookup import BenchObjective, fgsm_radius, objective_table, resolve
from robnas.bench.search_runs import BenchmarkRun, check_coverage, run_on_benchmark
from robnas.config import config_from_dict, config_to_dict
from robnas.data.prepare import DataConfig, load_configured
from robnas.device import resolve_device
from robnas.errors import DataError, InvalidValueError, RobnasError, UnknownNameError
from robnas.bench.settings import NasConfig
from robnas.bench.study_report import Section
from robnas.search.differentiable.resumable import check_search, search_in_run
from robnas.search.differentiable.settings import DifferentiableSearchConfig
from robnas.search.discrete import create_strategy
from robnas.spaces import get_space
from robnas.store.atomic import write_json_atomic, write_text_atomic
from robnas.store.run_dir import RunDir
from robnas.train.recipes import get_recipe


@dataclass(frozen=True)
class DifferentiableTask:
    """One one-shot search whose derived cell is looked up in the benchmark (plain data for a worker)."""

    method: str
    seed: int
    space: str
    data: dict[str, Any]                 # [data] of the search: the benchmark's dataset and subset sizes
    settings: dict[str, Any]             # [search.differentiable]
    device: str
    directory: str = ""                  # the search's run directory (set when the study's run exists)


def run_differentiable(task: DifferentiableTask) -> tuple[str, float]:
    """(derived arch, search seconds) of one search, run in its own run directory."""
    settings = config_from_dict(DifferentiableSearchConfig, task.settings, prefix="search.differentiable.")
    data = config_from_dict(DataConfig, task.data, prefix="data.")
    dataset = load_configured(data, resolve_device(task.device), task.seed)
    path = Path(task.directory)
    run = RunDir.create(path.parent, path.name, "search", quiet=True)
    outcome = search_in_run(run, dataset, task.space, task.method, settings, seed=task.seed, threads=1, quiet=True)
    return outcome.genotype, outcome.seconds


def execute(task: BenchmarkRun | DifferentiableTask) -> Any:
    """What a worker runs: a discrete run on the benchmark, or a differentiable search."""
    if isinstance(task, BenchmarkRun):
        return run_on_benchmark(task)
    return run_differentiable(task)


# --- plan ---------------------------------------------------------------------------------------


@dataclass
class Block:
    """One search objective: its runs and, after the study, its table."""

    objective: BenchObjective            # what the searches see (the search replicate) and select on
    heldout: BenchObjective              # what the picks are scored on (the held-out replicates)
    mean: BenchObjective                 # the replicate mean (the best architecture, for regret)
    runs: list[BenchmarkRun]
    notes: list[str] = field(default_factory=list)
    results: list[lib.MethodResult] = field(default_factory=list)
    table: lib.Table | None = None


@dataclass
class NasStudyPlan:
    source: str
    blocks: list[Block]
    columns: list[m.Measurement]
    radius: str | None
    queries: int
    differentiable: list[DifferentiableTask]
    heldout: lib.HeldOut
    resamples: int
    confidence: float
    seed: int
    notes: list[str] = field(default_factory=list)


def default_objective(bench: Benchmark) -> str:
    """FGSM error at the benchmark's reference radius (:func:`robnas.bench.lookup.fgsm_radius`)."""
    key, label = fgsm_radius(bench)
    return f"robust_error:{m.attack_name(key, bench.result_keys('attack'))}@{label}"


def table_columns(bench: Benchmark, radius: str | None, replicate: m.Replicates = None) -> list[m.Measurement]:
    """Clean, every attack at ``radius`` (or the nearest radius it was measured at), the corruption mean; on
    ``replicate`` (None: the replicate mean)."""
    return [m.clean(bench, replicate), *m.at_radius(bench, radius, replicate),
            *(c for c in m.corruptions(bench, replicate) if c.kind == "summary")]


def recipe_sizes(meta: dict[str, Any]) -> dict[str, Any]:
    """The network size and data subset of a benchmark's recipe ({} when the benchmark records none).

    A benchmark file records its recipe by name (a registered recipe, with ``recipe_overrides``) or as
    the recipe's fields (``build``, ``train_size``, ``test_size``)."""
    recipe = meta.get("recipe")
    if isinstance(recipe, dict) and "build" in recipe:
        return {"build": dict(recipe.get("build") or {}), "train_size": recipe.get("train_size"),
                "test_size": recipe.get("test_size"), "resize": recipe.get("resize")}
    name = recipe.get("name") if isinstance(recipe, dict) else recipe
    if not isinstance(name, str):
        return {}
    try:
        found = get_recipe(name, meta.get("recipe_overrides") or {})
    except RobnasError:
        return {}
    return {"build": dict(found.build), "train_size": found.train_size, "test_size": found.test_size,
            "resize": found.resize}


def _differentiable(n: NasConfig, bench: Benchmark, seed: int, device: str, data_root: str | None,
                    notes: list[str]) -> list[DifferentiableTask]:
    """The one-shot searches, validated (methods, settings, data) before anything is written."""
    if n.differentiable_seeds < 0:
        raise InvalidValueError(f"bench.nas.differentiable_seeds must be >= 0 (0 = skip them), got "
                                f"{n.differentiable_seeds}")
    if not n.differentiable or n.differentiable_seeds == 0:
        return []
    if not get_space(bench.space).has_supernet:
        notes.append(f"differentiable searches skipped: the {bench.space} space has no supernet")
        return []
    sizes = recipe_sizes(bench.meta)
    settings = config_to_dict(DifferentiableSearchConfig())
    build = sizes.get("build", {})
    if "C" in build:
        settings["C"] = build["C"]
    if "N" in build or "layers" in build:
        settings["layers"] = build.get("N", build.get("layers"))
    if sizes.get("train_size"):
        settings["train_size"] = sizes["train_size"]
    settings.update(n.differentiable_search)
    if not sizes:
        notes.append("the benchmark records no recipe: the supernets use the [search.differentiable] defaults")
    data = {"name": bench.dataset, "root": data_root, "train_size": sizes.get("train_size"),
            "test_size": sizes.get("test_size"), "resize": sizes.get("resize")}
    parsed = config_from_dict(DifferentiableSearchConfig, settings, prefix="bench.nas.differentiable_search.")
    tasks = []
    for method in n.differentiable:
        check_search(bench.space, method, parsed)  # unknown methods, bad settings: one line now
        for k in range(n.differentiable_seeds):
            tasks.append(DifferentiableTask(method, seed + k, bench.space, data, settings, device))
    try:
        load_configured(config_from_dict(DataConfig, data, prefix="data."), "cpu", seed)
    except DataError as exc:
        raise DataError(f"{exc} -- the differentiable searches train on the benchmark's dataset; point --data-root "
                        "at it or skip them with --set bench.nas.differentiable_seeds=0") from None
    return tasks


def plan(n: NasConfig, bench: Benchmark, source: str, seed: int = 0, device: str = "cpu",
         data_root: str | None = None) -> NasStudyPlan:
    """Validate every setting, objective, strategy and search before anything is written."""
    if n.runs < 1 or n.queries < 1:
        raise InvalidValueError(f"bench.nas.runs and bench.nas.queries must be >= 1, got runs={n.runs}, "
                                f"queries={n.queries}")
    if not n.strategies:
        raise InvalidValueError("bench.nas.strategies is empty; list some of: rs, ls, re, bananas, nsga2")
    unknown = sorted(set(n.strategy_params) - set(n.strategies))
    if unknown:
        raise InvalidValueError(f"bench.nas.strategy_params names {', '.join(unknown)}, which is not in "
                                f"bench.nas.strategies ({', '.join(n.strategies)})")
    if n.bootstrap < 0 or not 0 < n.confidence < 1:
        raise InvalidValueError(f"bench.nas.bootstrap must be >= 0 and bench.nas.confidence in (0, 1), got "
                                f"{n.bootstrap} and {n.confidence}")
    space = get_space(bench.space)
    held = lib.HeldOut.of(bench.replicates)
    specs = list(n.objectives) or [default_objective(bench), "clean_error"]
    second = resolve(bench, n.second_objective)
    blocks, notes = [], [held.note]
    for spec in specs:
        objective = resolve(bench, spec, held.search)
        block = Block(objective, resolve(bench, spec, held.heldout), resolve(bench, spec), [])
        for strategy in n.strategies:
            objectives = (objective.name,)
            if strategy.lower() == "nsga2":
                if second.name == objective.name:
                    block.notes.append(f"nsga2 skipped: its second objective is the search objective {objective.name}; "
                                       "set bench.nas.second_objective")
                    continue
                objectives = (objective.name, second.name)
            params = dict(n.strategy_params.get(strategy, {}))
            create_strategy(strategy.lower(), space, list(objectives), seed, **params)  # names and params
            block.runs += [BenchmarkRun(source, strategy.lower(), objectives, seed, i, n.queries, params,
                                        replicate=held.search) for i in range(n.runs)]
        if not block.runs:
            raise InvalidValueError(f"no strategy can search {objective.name} (see bench.nas.strategies)")
        check_coverage(space, objective_table(source, (objective.name,)))
        blocks.append(block)
    radius = _table_radius(bench, [b.objective.name for b in blocks])
    differentiable = _differentiable(n, bench, seed, device, data_root, notes)
    return NasStudyPlan(source, blocks, table_columns(bench, radius, held.heldout), radius, n.queries, differentiable, held,
                n.bootstrap, n.confidence, seed, notes)


def _table_radius(bench: Benchmark, objectives: list[str]) -> str | None:
    """The radius of the table's attack columns: the first robust objective's own, else the reference radius."""
    for objective in objectives:
        if objective.startswith("robust_error:"):
            return objective.rpartition("@")[2]
    try:
        return fgsm_radius(bench)[1]
    except UnknownNameError:
        return None


# --- run ----------------------------------------------------------------------------------------


def compute(p: NasStudyPlan, bench: Benchmark, backend: Any, workdir: Path, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Run everything on ``backend``; fill each block's results; return the differentiable searches' records."""
    differentiable = [replace(t, directory=str(workdir / f"{t.method}-seed{t.seed}")) for t in p.differentiable]
    runs = [r for block in p.blocks for r in block.runs]
    tasks: list[Any] = [*differentiable, *runs]   # the long searches first, so they overlap the short runs
    found: dict[int, Any] = {}
    started = time.perf_counter()
    for index, value in backend.imap_unordered(execute, tasks):
        found[index] = value
    log(f"{len(runs)} discrete runs and {len(differentiable)} differentiable searches in "
        f"{time.perf_counter() - started:.1f}s on {backend.name} x{backend.slots}")
    records = []
    for k, task in enumerate(differentiable):
        arch, seconds = found[k]
        row = bench.lookup(arch)
        records.append({"method": task.method, "seed": task.seed, "arch": arch, "key": bench.keys()[row], "row": row,
                        "seconds": seconds, "directory": task.directory})
    offset = len(differentiable)
    rows_of = {(r.objectives, r.strategy, r.index): found[offset + k] for k, r in enumerate(runs)}
    for block in p.blocks:
        objective = block.objective.values  # what the runs saw: they select on it
        strategies = list(dict.fromkeys(r.strategy for r in block.runs))
        for strategy in strategies:
            mine = [r for r in block.runs if r.strategy == strategy]
            asked = [rows_of[(r.objectives, r.strategy, r.index)] for r in mine]
            curves = np.stack([lib.anytime(a, objective, p.queries) for a in asked])
            block.results.append(lib.MethodResult(strategy, "discrete", [lib.best_found(a, objective) for a in asked],
                                                  curves, note="2 objectives" if len(mine[0].objectives) > 1 else ""))
        for method in dict.fromkeys(r["method"] for r in records):
            block.results.append(lib.MethodResult(method, "differentiable",
                                                  [r["row"] for r in records if r["method"] == method],
                                                  note="derived cell"))
        block.table = lib.table(block.objective.name, block.heldout.values, p.columns, block.results)
        for row, result in zip(block.table.rows, block.results):
            row["regret"] = lib.regret(result.found, block.heldout.values, block.mean.values)
    return records


def write(p: NasStudyPlan, bench: Benchmark, results: Path, workdir: Path, backend: Any,
          log: Callable[[str], None]) -> Section:
    records = compute(p, bench, backend, workdir, log)
    archs = bench.archs()
    text, tables, files, data_blocks = [], [], [], []
    for k, block in enumerate(p.blocks):
        assert block.table is not None
        points = lib.objective_points(bench, block.objective.name, p.heldout.heldout)
        discrete = [r for r in block.results if r.kind == "discrete"]
        comparisons = lib.versus_random_heldout(discrete, block.heldout.values, points, p.resamples,
                                                p.confidence, p.seed + k)
        oneshot = [r for r in block.results if r.kind == "differentiable"]
        versus_darts = lib.versus_random_heldout(oneshot, block.heldout.values, points, p.resamples, p.confidence,
                                                 p.seed + k, reference="darts")
        scored = "held-out replicates" if p.heldout.heldout else "the values searched on"
        title = (f"Search on {block.objective.name} ({block.objective.description}): accuracy (%) of the final "
                 f"picks on {scored}, mean over runs (standard error); percentile of the pick's objective among all "
                 f"{len(bench)} architectures")
        tables.append(lib.markdown(block.table, f"**{title}**"))
        plot = lib.plot_anytime(block.results, block.objective.name, float(np.min(block.objective.values)),
                                results / f"nas_anytime{'' if k == 0 else f'_{k}'}.png",
                                f"{bench.name}: best {block.objective.name} so far ({p.queries} queries)")
        files.append(plot)
        regrets = ["Regret of the final picks (held-out objective minus the best replicate-mean objective; mean "
                   "(standard error) over runs): " + ", ".join(f"{r['method']} {r['regret'][0]:.2f} "
                                                           f"({r['regret'][1]:.2f})" for r in block.table.rows), ""]
        text += [tables[-1], *regrets,
                 lib.heldout_markdown(comparisons, block.objective.name, p.confidence, points is not None),
                 lib.heldout_markdown(versus_darts, block.objective.name, p.confidence, points is not None,
                                      reference="DARTS (the one-shot searches' derived cells, bootstrap over search "
                                                "seeds)"),
                 *block.notes, "",
                 f"![anytime curves, {block.objective.name}]({plot.name})", ""]
        data_blocks.append({
            "objective": block.objective.name, "description": block.objective.description,
            "columns": [c.label for c in p.columns], "optimum": block.table.optimum,
            "rows": [{**r, "cells": [list(c) for c in r["cells"]], "percentile": list(r["percentile"]),
                      "objective": list(r["objective"]), "regret": list(r["regret"])} for r in block.table.rows],
            "search_replicate": p.heldout.search, "heldout_replicates": p.heldout.heldout,
            "versus_random_search": comparisons, "versus_darts": versus_darts, "notes": block.notes,
            "found": {res.label: [archs[i] for i in res.found] for res in block.results},
            "anytime_mean": {res.label: res.curves.mean(axis=0).tolist() for res in block.results
                             if res.curves is not None}})
    write_text_atomic(results / "nas_table.md", "\n".join(tables))
    write_json_atomic(results / "nas.json", {"benchmark": bench.name, "radius": p.radius, "queries": p.queries,
                                             "blocks": data_blocks, "differentiable": records, "notes": p.notes})
    files += [results / "nas_table.md", results / "nas.json"]
    intro = (f"Every discrete strategy ran {len({r.index for r in p.blocks[0].runs})} times for {p.queries} queries "
             f"(seeds derived from the study seed and the run index); attack columns at {p.radius}"
             " (or the nearest radius an attack was measured at). The optimum row is each column's best "
             "architecture.")
    if p.differentiable:
        intro += (f" Differentiable searches: {', '.join(dict.fromkeys(t.method for t in p.differentiable))}, "
                  f"{len({t.seed for t in p.differentiable})} seeds each, on {bench.dataset}; their rows are their "
                  "derived cells looked up in the benchmark.")
    return Section(f"NAS on the benchmark ({bench.name})", "\n".join([intro, "", *p.notes, "", *text]), files)
