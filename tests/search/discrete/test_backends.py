"""In-process, local process pool and Ray (a local 2-CPU instance) give the same records for the same seed.

One module, one Ray start-up (it takes ~10 s): the Ray instance listens on the loopback interface only.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from robnas.errors import DataError, InvalidValueError, UnknownNameError
from robnas.search.discrete import create_strategy
from robnas.backends import RayBackend, create_backend
from robnas.search.discrete.training_evaluator import TrainingEvaluator
from robnas.bench.search_runs import BenchmarkEvaluator
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


def _kill_first_attempts(marker_dir: Path, count: int, killed: list[int], deadline: float) -> None:
    """SIGKILL each worker that announces a first attempt (its pid file), ``count`` in all."""
    while len(killed) < count and time.monotonic() < deadline:
        for marker in sorted(marker_dir.glob("*.pid")):
            pid = int(marker.read_text() or 0)
            if pid and pid not in killed:
                killed.append(pid)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:  # already gone
                    pass
        time.sleep(0.2)


def test_a_killed_ray_worker_is_retried_and_its_task_recorded_once(tmp_path, ray_backend):
    import ray

    from . import crashing

    ray.cloudpickle.register_pickle_by_value(crashing)  # the workers need not import the tests
    evaluator = crashing.CrashOnceEvaluator(str(tmp_path))
    space = get_space("nb201")
    slot = Slot("nb201", "digits", budget_key(evaluator.budget()), 7)
    killed: list[int] = []
    killer = threading.Thread(target=_kill_first_attempts, args=(tmp_path, 2, killed, time.monotonic() + 90))
    killer.start()
    with ResultsDB(tmp_path / "ray.db") as db:
        strategy = create_strategy("rs", space, ["clean_error", "params"], seed=5, batch_size=2)
        runner = SearchRunner(strategy, space, evaluator, db, slot, ray_backend, ["clean_error", "params"],
                              budget=SearchBudget(evaluations=2))
        stats = runner.run()
        records = db.records()
    killer.join()
    assert len(killed) == 2  # both first attempts died mid-task
    assert stats.computed == 2 and stats.failed == 0
    assert len(records) == 2 and len({r.key for r in records}) == 2  # one row per task, no duplicate
    assert all(r.status == "done" and r.metrics["params"] == len(r.arch) for r in records)
    assert {int(r.worker.rsplit(":", 1)[1]) for r in records}.isdisjoint(killed)  # answered by the retries


def test_ray_backend_without_ray_is_one_line_naming_the_extra(monkeypatch, tmp_path, capsys):
    from robnas.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    with pytest.raises(InvalidValueError, match=r"pip install 'robnas\[ray\]'"):
        create_backend("ray", workers=1)
    with pytest.raises(InvalidValueError, match=r"pip install 'robnas\[ray\]'"):
        RayBackend(workers=1)  # the import itself, when the check is bypassed
    code = main(["search", "--method", "rs", "--space", "nb201", "--dataset", "digits", "--backend", "ray",
                 "--evaluations", "1", "--out", str(tmp_path), "--name", "noray", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == ["error: --backend ray needs Ray: pip install 'robnas[ray]' (or pip install ray)"]
    assert not (tmp_path / "noray").exists()  # nothing written


def test_pool_workers_are_replaced_after_their_task_quota():
    """``tasks_per_worker`` bounds what a long build's workers accumulate: a fresh process every k tasks."""
    backend = create_backend("local", workers=1, tasks_per_worker=2)
    try:
        pids = [pid for _, pid in backend.imap_unordered(_pid, range(6))]
    finally:
        backend.close()
    assert len(set(pids)) == 3 and all(pids.count(p) == 2 for p in set(pids))


def _pid(_: int) -> int:
    return os.getpid()
