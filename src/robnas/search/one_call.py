"""One call runs a discrete search, in the spirit of pymoo's ``minimize(problem, algorithm, termination)``.

    import robnas
    bench = robnas.bench.open("digits-nb201")
    result = robnas.search.run("nb201", "re", ["robust_error:fgsm@20/255"], bench, budget=100, seed=0)
    result.best, result.front, result.history

``evaluator_or_benchmark`` is either a plain callable ``arch -> {objective: value}`` (minimised values;
e.g. :class:`~robnas.search.discrete.training_evaluator.TrainingEvaluator`, which trains and attacks
candidates) or an object an adapter turns into one: :mod:`robnas.bench` registers one for its
:class:`~robnas.bench.Benchmark`, which then answers from its table (tabular mode). The search library
sits below the benchmarks, so it knows them only through :func:`register_evaluator_adapter`. The assembly a job
does by hand -- strategy, results database, slot, execution backend, the ask/tell loop -- happens
here; a ``db`` path makes the evaluations persistent and a rerun with the same arguments resumes
(the database answers what was evaluated; the strategy retraces its steps).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robnas.backends import Backend, create_backend
from robnas.errors import InvalidValueError
from robnas.search.discrete.runner import SearchBudget, SearchRunner, SearchStats, Told
from robnas.search.discrete.strategy import Strategy, create_strategy
from robnas.spaces import get_space
from robnas.store.results_db import ResultsDB, Slot, budget_key


@dataclass
class SearchResult:
    """What a search found: the best architecture(s) with their objectives, and everything it was told."""

    objectives: list[str]
    best: tuple[str, dict[str, float]]                        # the strategy's best (first objective first)
    front: list[tuple[str, dict[str, float]]]                 # non-dominated set (one objective: the top 10)
    history: list[Told] = field(default_factory=list)         # every architecture in the order it was told
    stats: SearchStats = field(default_factory=SearchStats)


#: Functions (thing, space, objectives) -> evaluator or None, tried in order (robnas.bench adds benchmarks').
_ADAPTERS: list[Callable[[Any, str, list[str]], Callable[[str], dict[str, float]] | None]] = []


def register_evaluator_adapter(adapter: Callable[[Any, str, list[str]], Callable[[str], dict[str, float]] | None]
                               ) -> None:
    """Let :func:`run` accept another kind of object as its evaluator (a higher layer's, e.g. a benchmark)."""
    if adapter not in _ADAPTERS:
        _ADAPTERS.append(adapter)


def _evaluator(evaluator_or_benchmark: Any, space: str, objectives: list[str]) -> Callable[[str], dict[str, float]]:
    for adapter in _ADAPTERS:
        found = adapter(evaluator_or_benchmark, space, objectives)
        if found is not None:
            return found
    if callable(evaluator_or_benchmark):
        return evaluator_or_benchmark
    raise InvalidValueError(f"evaluator_or_benchmark must be a callable arch -> {{objective: value}} or a benchmark "
                            f"(robnas.bench.open(...)), got {type(evaluator_or_benchmark).__name__}")


def run(space: str, strategy: str | Strategy, objectives: Sequence[str], evaluator_or_benchmark: Any,
        budget: int = 100, seed: int = 0, strategy_params: dict[str, Any] | None = None,
        backend: str | Backend = "inprocess", workers: int = 0, max_seconds: float = 0.0,
        db: str | Path | None = None, quiet: bool = True) -> SearchResult:
    """Search ``space`` with ``strategy`` (a name, ``robnas list strategies``, or a created strategy) for
    ``budget`` evaluations, minimising ``objectives``; see the module for the evaluator."""
    names = list(objectives)
    if not names:
        raise InvalidValueError("a search needs at least one objective, e.g. ['clean_error']")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise InvalidValueError(f"budget must be a whole number of evaluations >= 1, got {budget!r}")
    the_space = get_space(space)
    the_strategy = (create_strategy(strategy.lower(), the_space, names, seed, **(strategy_params or {}))
                    if isinstance(strategy, str) else strategy)
    evaluate = _evaluator(evaluator_or_benchmark, space, names)
    described = evaluate.budget() if hasattr(evaluate, "budget") else {"evaluator": type(evaluate).__qualname__}
    slot = Slot(space, str(getattr(evaluate, "dataset", "") or described.get("benchmark", "custom")),
                budget_key(described), seed)
    pool = create_backend(backend, workers) if isinstance(backend, str) else backend
    with tempfile.TemporaryDirectory(prefix="robnas-search-") as tmp:
        results = ResultsDB(Path(db) if db is not None else Path(tmp) / "results.db")
        try:
            runner = SearchRunner(the_strategy, the_space, evaluate, results, slot, pool, names,
                                  budget=SearchBudget(budget, max_seconds), quiet=quiet)
            stats = runner.run()
        finally:
            results.close()
            if isinstance(backend, str):
                pool.close()
    chosen = the_strategy.best()
    multi = bool(getattr(the_strategy, "multi_objective", False)) and len(names) > 1
    best = min(chosen, key=lambda item: item[1][names[0]])  # on a front: the member best on the first objective
    return SearchResult(names, best, list(chosen if multi else chosen[:10]), runner.history, stats)
