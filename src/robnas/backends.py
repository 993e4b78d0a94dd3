"""Execution backends: where evaluations run, separate from what is evaluated and from the strategy.

A backend maps a picklable function over items and yields ``(index, result)`` as results arrive,
keeping at most ``slots`` items in flight and pulling the next item from the (lazy) iterator only
when a slot frees, so the caller can mark an evaluation *running* exactly when it starts and stop
submitting when its wall-time budget is spent.

* ``inprocess`` -- one at a time in this process (debugging, tiny searches);
* ``local`` (default) -- a spawn-context process pool, one worker per core unless told otherwise;
  each worker gets ``cores // workers`` torch threads and exits when its parent dies (so a
  ``kill -9`` of the search leaves no orphans);
* ``ray`` -- Ray tasks of one CPU each, on a local Ray instance or the cluster at ``address``
  (``pip install 'robnas[ray]'``). Results come back to the driver, which alone writes the
  results database; workers only need the data (and any table or adversarial set) at the same paths.
  A task whose worker process (or host) dies is retried once by Ray on another worker; if the retry
  dies too, the loop stops with one line (:class:`robnas.errors.WorkerLostError`) and the task,
  still marked running in the caller's records, is redone by ``--resume``. An exception raised BY
  the task is never retried: it reaches the caller as itself.

The interface every fan-out uses (discrete search, benchmark builds, ensembles' members,
NAS-on-benchmark runs), kept stable::

    check_backend(name, workers=0, address=None) -> str     # validate only: call before writing anything
    with create_backend(name, workers=0, address=None) as backend:
        for index, result in backend.imap_unordered(fn, items):
            ...                                              # index: position of the item in `items`

``fn`` must be picklable (a module-level function; its argument and result picklable too), and
``items`` may be a lazy iterator: the next item is drawn only when a slot frees (``backend.slots``
at a time). ``backend.describe()`` is a JSON-able summary for the run's records.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

from robnas.errors import InvalidValueError, UnknownNameError, WorkerLostError

BACKENDS = ("inprocess", "local", "ray")
#: How often Ray re-runs a task whose worker died (not one that raised: that error is the result).
RAY_TASK_RETRIES = 1
RAY_MISSING = "--backend ray needs Ray: pip install 'robnas[ray]' (or pip install ray)"


@dataclass(frozen=True)
class ExecutionConfig:
    """Where a job's parallel work runs: the settings of :func:`create_backend`, shared by the discrete search,
    the benchmark actions and the ensemble experiment (a base of their config sections), so all three spell
    them alike."""

    backend: str = "local"           # inprocess | local (process pool) | ray
    workers: int = 0                 # parallel tasks; 0 = one per core (local) / every CPU (ray)
    address: str | None = None       # Ray cluster address (backend = "ray"); None starts a local instance


def cpu_count() -> int:
    """Cores this process may use (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Backend(ABC):
    """Runs ``fn(item)`` for many items; ``slots`` of them at a time."""

    name: str
    slots: int = 1

    @abstractmethod
    def imap_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        """``(index of the item, fn(item))`` in completion order."""

    def close(self) -> None:
        """Release workers (idempotent)."""

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "workers": self.slots}

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _keep_slots_full(items: Iterable[Any], slots: int, *, submit: Callable[[Any], Any],
                     finished: Callable[[list[Any]], Iterable[Any]], result: Callable[[Any], Any],
                     cancel: Callable[[Any], Any]) -> Iterator[tuple[int, Any]]:
    """``(index, result)`` in completion order with at most ``slots`` submitted handles at a time; the
    next item is drawn only when a slot frees. Handles still running when the consumer stops are cancelled."""
    source = enumerate(items)
    running: dict[Any, int] = {}
    try:
        while True:
            while len(running) < slots:
                nxt = next(source, None)
                if nxt is None:
                    break
                running[submit(nxt[1])] = nxt[0]
            if not running:
                return
            for handle in finished(list(running)):
                yield running.pop(handle), result(handle)
    finally:
        for handle in running:
            cancel(handle)


class InProcessBackend(Backend):
    name = "inprocess"

    def imap_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        for index, item in enumerate(items):
            yield index, fn(item)


def _exit_with_parent(parent: int) -> None:
    # A pool worker blocks on its task queue forever once the parent is gone (it holds a write end
    # of that queue itself), so it watches the parent and leaves.
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def _init_worker(threads: int, parent: int) -> None:
    import torch

    torch.set_num_threads(threads)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


class LocalPoolBackend(Backend):
    """A spawn-context process pool (fork would copy the parent's torch threads and locks)."""

    name = "local"

    def __init__(self, workers: int = 0, tasks_per_worker: int | None = None) -> None:
        check_backend(self.name, workers)
        cores = cpu_count()
        self.slots = workers or cores
        self.threads = max(1, cores // self.slots)
        self.tasks_per_worker = tasks_per_worker
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.slots, mp_context=get_context("spawn"),
                                             initializer=_init_worker, initargs=(self.threads, os.getpid()),
                                             max_tasks_per_child=self.tasks_per_worker)
        return self._pool

    def imap_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        pool = self._executor()
        yield from _keep_slots_full(
            items, self.slots, submit=lambda item: pool.submit(fn, item),
            finished=lambda futures: wait(futures, return_when=FIRST_COMPLETED)[0],
            result=lambda future: future.result(), cancel=lambda future: future.cancel())

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "threads_per_worker": self.threads}


class RayBackend(Backend):
    """Ray tasks of one CPU each. Without ``address`` a local instance with ``workers`` CPUs is started
    (bound to the loopback interface, no dashboard); with one, the cluster's CPUs are used."""

    name = "ray"

    def __init__(self, workers: int = 0, address: str | None = None, tasks_per_worker: int | None = None) -> None:
        self.tasks_per_worker = tasks_per_worker
        if not address and "ray" not in sys.modules:
            # A local instance on Linux binds its servers to every interface: Ray resolves even an explicit
            # 127.0.0.1 node address to the machine's external one. With its single-machine mode (read
            # once, when ray is imported) the node address is the loopback one and so are the sockets.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        try:
            import ray
        except ImportError:
            raise InvalidValueError(RAY_MISSING) from None

        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=workers or cpu_count(), include_dashboard=False, log_to_driver=False)
            self._started = True
        cluster_cpus = int(ray.cluster_resources().get("CPU", 1))
        self.slots = min(workers, cluster_cpus) if workers else cluster_cpus
        self._remote: dict[Callable[[Any], Any], Any] = {}

    def _task(self, fn: Callable[[Any], Any]) -> Any:
        if fn not in self._remote:
            # One CPU per task; Ray then sets OMP/torch threads to 1 in the worker. A dead worker's task is
            # re-run (max_retries); the task's own exceptions are not (retry_exceptions=False).
            options: dict[str, Any] = {"max_calls": self.tasks_per_worker} if self.tasks_per_worker else {}
            self._remote[fn] = self._ray.remote(num_cpus=1, max_retries=RAY_TASK_RETRIES, retry_exceptions=False,
                                                **options)(fn)
        return self._remote[fn]

    def imap_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        ray, task = self._ray, self._task(fn)

        lost = tuple(getattr(ray.exceptions, name) for name in ("WorkerCrashedError", "NodeDiedError",
                                                                 "OutOfMemoryError", "LocalRayletDiedError")
                     if hasattr(ray.exceptions, name))

        def result(ref: Any) -> Any:
            try:
                return ray.get(ref)
            except ray.exceptions.RayTaskError as exc:  # re-raise the worker's own error, not Ray's wrapper
                raise (exc.cause if isinstance(exc.cause, BaseException) else exc) from None
            except lost as exc:
                raise WorkerLostError(
                    f"a Ray worker died running a task and again on its retry ({type(exc).__name__}: out of memory, "
                    "or a host lost?); completed results are saved: rerun with --resume") from None

        yield from _keep_slots_full(items, self.slots, submit=task.remote,
                                    finished=lambda refs: ray.wait(refs, num_returns=1)[0], result=result,
                                    cancel=lambda ref: ray.cancel(ref, force=True))

    def close(self) -> None:
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
            self._started = False


def check_backend(name: str, workers: int = 0, address: str | None = None) -> str:
    """The normalised backend name, after checking the settings (and that Ray is installed) without
    starting anything."""
    key = name.lower()
    if key not in BACKENDS:
        raise UnknownNameError(f"unknown execution backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    if address and key != "ray":
        raise InvalidValueError(f"--address is the Ray cluster address; it needs --backend ray, not {name}")
    if workers < 0:
        raise InvalidValueError(f"search.discrete.workers must be >= 0 (0 = one per core), got {workers}")
    if key == "ray" and importlib.util.find_spec("ray") is None:  # find, not import: see RayBackend
        raise InvalidValueError(RAY_MISSING)
    return key


def create_backend(name: str, workers: int = 0, address: str | None = None,
                   tasks_per_worker: int | None = None) -> Backend:
    """``inprocess``, ``local`` or ``ray``; ``address`` is only meaningful for Ray. ``tasks_per_worker``
    replaces a pool or Ray worker process after that many tasks (bounding memory that a long run's
    libraries never give back); the in-process backend has no worker to replace."""
    key = check_backend(name, workers, address)
    if key == "inprocess":
        return InProcessBackend()
    if key == "local":
        return LocalPoolBackend(workers, tasks_per_worker)
    return RayBackend(workers, address, tasks_per_worker)
