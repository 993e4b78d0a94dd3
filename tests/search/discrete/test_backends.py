"""In-process, local process pool and Ray (a local 2-CPU instance) give the same records for the same seed.

One module, one Ray start-up (it takes ~10 s): the Ray instance listens on the loopback interface only.
"""

from __future__ import annotations

import pytest

from robnas.errors import DataError, InvalidValueError, UnknownNameError
from robnas.search.discrete import create_strategy
from robnas.search.discrete.backends import RayBackend, create_backend
from robnas.pipeline.candidates import TrainingEvaluator
from robnas.search.discrete.evaluators import BenchmarkEvaluator
from robnas.search.discrete.runner import SearchBudget, SearchRunner
from robnas.spaces import get_space
from robnas.store.results_db import ResultsDB, Slot, budget_key

# threads=1 skips the FLOPs count of the thread policy (its first use imports torch._dynamo: seconds per worker)
EVALUATOR = TrainingEvaluator("nb201", ("clean_error", "params"), data={"name": "digits", "train_size": 100,
                                                                        "test_size": 40},
                              train={"epochs": 1, "batch_size": 50, "lr": 0.1}, build_kwargs={"C": 4, "N": 1}, seed=7,
                              threads=1)


def _search(backend, db_path) -> list[tuple]:
    space = get_space("nb201")
    slot = Slot("nb201", "digits", budget_key(EVALUATOR.budget()), 7)
    strategy = create_strategy("rs", space, ["clean_error", "params"], seed=3, batch_size=3)
    with ResultsDB(db_path) as db:
        runner = SearchRunner(strategy, space, EVALUATOR, db, slot, backend, ["clean_error", "params"],
                              budget=SearchBudget(evaluations=3))
        runner.run()
        return sorted((r.key, r.arch, r.seed, r.budget, r.status, r.metrics) for r in db.records())


@pytest.fixture(scope="module")
def ray_backend():
    backend = RayBackend(workers=2)
    yield backend
    backend.close()


def test_every_backend_gives_the_same_records(tmp_path, ray_backend):
    import ray

    assert ray_backend.slots == 2 and ray.util.get_node_ip_address() == "127.0.0.1"  # loopback only
    with create_backend("inprocess") as inprocess:
        reference = _search(inprocess, tmp_path / "inprocess.db")
    with create_backend("local", workers=2) as pool:
        assert pool.slots == 2
        pooled = _search(pool, tmp_path / "pool.db")
    distributed = _search(ray_backend, tmp_path / "ray.db")
    assert len(reference) == 3 and all(r[4] == "done" for r in reference)
    assert pooled == reference
    assert distributed == reference
    workers = {r.worker for r in ResultsDB(tmp_path / "pool.db").records()}
    assert len(workers) == 2  # the pool really ran two processes


def test_a_worker_error_reaches_the_caller_as_itself(tmp_path, ray_backend):
    """A lookup of an arch missing from a benchmark stops the search with the benchmark's own one-line error."""
    import random

    from robnas.bench.store import ArchResult, BenchmarkFile
    from robnas.search.discrete.evaluators import run_evaluation

    space = get_space("nb201")
    arch = space.sample(random.Random(0))
    other = next(a for a in (space.sample(random.Random(s)) for s in range(1, 50)) if space.key(a) != space.key(arch))
    with BenchmarkFile(tmp_path / "one.sqlite", readonly=False) as bench:
        bench.set_meta({"space": "nb201", "dataset": "digits", "axes": {"clean": {"kind": "clean", "axis": []}}})
        bench.add(ArchResult(key=space.key(other), arch=other, measures={("clean", "accuracy"): 0.5}))
    missing = BenchmarkEvaluator(str(tmp_path / "one.sqlite"), "nb201", ("clean_error",))
    with pytest.raises(DataError, match="is not in benchmark"):
        list(ray_backend.imap_unordered(run_evaluation, [(missing, arch)]))


def test_backend_names_and_settings_are_checked():
    with pytest.raises(UnknownNameError):
        create_backend("slurm")
    with pytest.raises(InvalidValueError, match="needs --backend ray"):
        create_backend("local", address="10.0.0.1:6379")
    with pytest.raises(InvalidValueError):
        create_backend("local", workers=-1)
