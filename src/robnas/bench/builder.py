"""Building a benchmark: train and evaluate every architecture of a space (or a sample), K times, into a file.

For each architecture -- one per canonical key; in NAS-Bench-201 the representative (lowest id) of
each of the 6466 classes -- and each replicate ``r`` (``--seeds K``: r = 0 .. K-1), a worker builds
the network with the space's builder at the recipe's size, computes the chosen proxies at
initialisation, trains it with the recipe, computes the proxies of the trained network, and evaluates
it with the protocol (every threat model at every radius, every corruption at every severity:
accuracy, mean confidence, confusion matrix, and which test points it classified correctly). The
driver writes each finished run in one transaction; ``kill -9`` loses only the runs still going, and
``--resume`` builds exactly the missing ones (also the replicates a larger ``--seeds`` adds).

Every run's numbers depend only on the run seed, the replicate, its canonical key, the recipe, the
protocol and the data subset (its seed is derived from run seed + r and the key, its whole
evaluation runs under ``torch.random.fork_rng``), never on the worker, the backend or the order:
``--only ARCH`` into a fresh file reproduces them on the same machine. The data subset and the test
points come from the run seed alone, so every replicate is scored on the same points. Replicate 0
is what a build before replicates existed measured.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shlex
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robnas._version import __version__
from robnas.bench.progress import ArchProgress
from robnas.bench.store import POINTS, ArchResult, BenchmarkFile, pack_points
from robnas.config import config_from_dict
from robnas.data.prepare import cached_prepared_data
from robnas.eps import Eps
from robnas.errors import TrainingDivergedError
from robnas.evaluation import evaluate, get_protocol, protocol_for
from robnas.evaluation.settings import EvalConfig
from robnas.metrics import count_flops, count_params, nb201_cost
from robnas.proxies import compute as compute_proxy
from robnas.search.discrete.evaluators import evaluation_seed
from robnas.spaces import get_space
from robnas.spaces.nb201 import index_of, representative
from robnas.store.atomic import atomic_path
from robnas.store.run_dir import RunDir
from robnas.threads import thread_limit, worker_threads
from robnas.train import train_model
from robnas.train.recipes import Recipe

PROXY_POINTS = 64        # training points proxies are computed on (a fixed, seeded subset)
# Workers are replaced after this many architectures: every architecture's frozen inference graph
# (TorchScript) keeps about 5 MB that PyTorch never frees, i.e. 16 GB per worker over the whole NB201
# space; a fresh worker costs a few seconds of start-up per 200 architectures.
ARCHS_PER_WORKER = 200


@dataclass(frozen=True)
class ArchBuilder:
    """Build, train and evaluate one architecture once (one replicate): a picklable callable shipped to workers."""

    space: str
    data: dict[str, Any]
    recipe: dict[str, Any]
    protocol: str
    eval: dict[str, Any] = field(default_factory=dict)   # the [eval] section, for protocol "eval"
    proxies: tuple[str, ...] = ()
    at: tuple[str, ...] = ("init", "trained")
    seed: int = 0
    device: str = "cpu"
    threads: int = 0
    keep_weights: str | None = None
    space_params: dict[str, Any] = field(default_factory=dict)

    def __call__(self, task: str | tuple[str, int]) -> ArchResult:
        """Build ``task``: an architecture (replicate 0) or ``(architecture, replicate)``."""
        arch, replicate = (task, 0) if isinstance(task, str) else task
        space = get_space(self.space, **self.space_params)
        arch = space.validate(arch)
        key = space.key(arch)
        seed = replicate_seed(self.seed, replicate, key)
        prepared = cached_prepared_data(self.data, self.seed, self.device)
        dataset = prepared.dataset
        shape = (dataset.in_channels, *dataset.image_size)
        recipe = config_from_dict(Recipe, self.recipe, prefix="recipe.")
        protocol = resolve_protocol(self.protocol, self.eval)
        ident = _nb201_id(self.space, arch)
        result = ArchResult(key=key, arch=arch, ident=ident, seed=seed, replicate=replicate,
                            info={"robnas": __version__, "worker": f"{socket.gethostname()}:{os.getpid()}"})
        proxy_idx = torch.randperm(len(prepared.train), generator=torch.Generator().manual_seed(seed))[:PROXY_POINTS]
        px, py = prepared.train.float_images(proxy_idx.to(prepared.train.device)), prepared.train.labels[proxy_idx]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = space.build(arch, num_classes=dataset.num_classes, in_channels=dataset.in_channels,
                                mean=dataset.mean, std=dataset.std, **recipe.build).to(prepared.train.images.device)
            result.params, result.flops = count_params(model), count_flops(model, shape)
            nb_params, nb_flops = nb201_cost(model, shape)
            result.info.update(nb201_params_m=nb_params, nb201_flops_m=nb_flops)
            with thread_limit(worker_threads(result.flops, self.threads)):
                if "init" in self.at:
                    self._proxies(model, px, py, "init", seed, result)
                started = time.perf_counter()
                cpu = time.process_time()
                try:
                    with tempfile.TemporaryDirectory(prefix="robnas-bench-") as tmp:
                        history = train_model(model, prepared.train, prepared.val, recipe.train,
                                              RunDir(tmp, quiet=True), seed=seed, quiet=True,
                                              checkpoints=False).history  # never resumed: no checkpoint
                except TrainingDivergedError as exc:
                    result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
                    result.train_seconds = time.perf_counter() - started
                    return result
                result.train_seconds = time.perf_counter() - started
                result.info["train_cpu_seconds"] = time.process_time() - cpu
                result.info["train_acc"] = history[-1]["train_acc"] if history else None
                if self.keep_weights:
                    _keep(model, Path(self.keep_weights), key, replicate)
                if "trained" in self.at:
                    self._proxies(model, px, py, "trained", seed, result)
                evaluated = time.perf_counter()
                cpu = time.process_time()
                record = evaluate(model, dataset.test, protocol, dataset.num_classes, seed=seed, quiet=True,
                                  reliability=False)
                result.eval_seconds = time.perf_counter() - evaluated
                result.info["eval_cpu_seconds"] = time.process_time() - cpu
        result.measures.update(record_measures(record))
        return result

    def _proxies(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, when: str, seed: int,
                 result: ArchResult) -> None:
        for name in self.proxies:
            began = time.perf_counter()
            value = compute_proxy(name, model, x, y, seed=seed)
            result.measures[(f"proxy:{name}@{when}", "value")] = np.asarray(value, dtype=np.float64)
            result.info[f"proxy_seconds:{name}@{when}"] = time.perf_counter() - began


def replicate_seed(seed: int, replicate: int, key: str) -> int:
    """The seed of replicate ``replicate`` of an architecture: that of a build with run seed ``seed + replicate``
    (replicate 0 is exactly what a build without replicates measured)."""
    return evaluation_seed(seed + replicate, key)


def resolve_protocol(name: str, eval_section: dict[str, Any]) -> Any:
    """A named protocol, or (``eval``) the ad-hoc protocol of an ``[eval]`` section."""
    if name == "eval":
        return protocol_for(config_from_dict(EvalConfig, eval_section, prefix="eval."))
    return get_protocol(name)


def record_measures(record: Any) -> dict[tuple[str, str], np.ndarray]:
    """The benchmark's measures of an evaluation record: accuracy as an exact fraction (correct / n from
    the confusion matrix), confidence, confusion matrices and the per-point outcomes (packed bits); lists
    over radii and severities."""
    out: dict[tuple[str, str], np.ndarray] = {}

    def put(key: str, measures: list[Any]) -> None:
        cms = np.asarray([m.cm for m in measures], dtype=np.int64)
        out[(key, "accuracy")] = np.trace(cms, axis1=1, axis2=2) / cms.sum(axis=(1, 2)).clip(min=1)
        out[(key, "confidence")] = np.asarray([m.confidence for m in measures], dtype=np.float64)
        out[(key, "cm")] = cms
        out[(key, POINTS)] = pack_points(np.stack([m.correct(record.n) for m in measures]))

    put("clean", [record.clean])
    for k in ("accuracy", "confidence", "cm", POINTS):
        out[("clean", k)] = out[("clean", k)][0]
    for key, result in record.threat_models.items():
        put(key, [result.by_eps[eps] for eps in sorted(result.by_eps)])
    for name, by_severity in record.corruptions.items():
        put(name, [by_severity[s] for s in sorted(by_severity)])
    return out


def axes_of(protocol: Any, proxies: tuple[str, ...] = (), at: tuple[str, ...] = ()) -> dict[str, Any]:
    """The benchmark's axes (radii, severities) of a protocol's keys, and the proxy keys."""
    axes: dict[str, Any] = {"clean": {"kind": "clean", "axis": []}}
    for tm in protocol.threat_models:
        axes[tm.key] = {"kind": "attack", "axis": [Eps.parse(e).label for e in sorted(tm.radii)], "norm": tm.norm,
                        "attack": tm.attack}
    for name, severities in protocol.conditions().items():
        axes[name] = {"kind": "corruption", "axis": list(severities)}
    for name in proxies:
        for when in at:
            axes[f"proxy:{name}@{when}"] = {"kind": "proxy", "axis": [], "proxy": name, "at": when}
    return axes


def _nb201_id(space: str, arch: str) -> int | None:
    return representative(index_of(arch)) if space == "nb201" else None


def weights_file(directory: Path, key: str, replicate: int = 0) -> Path:
    """Where ``--keep-weights`` stores an architecture's trained network (named by a hash of its key; replicates
    after the first carry their index)."""
    stem = hashlib.sha256(key.encode()).hexdigest()[:20]
    return directory / (f"{stem}.pt" if replicate == 0 else f"{stem}-r{replicate}.pt")


def _keep(model: torch.nn.Module, directory: Path, key: str, replicate: int) -> None:
    with atomic_path(weights_file(directory, key, replicate)) as tmp:
        torch.save({"model_spec": model.spec, "model_state": model.state_dict(), "key": key}, tmp)


# --- the build ----------------------------------------------------------------------------------

#: CPU features that change float kernels (oneDNN / MKL pick their code path by them).
_ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile")


def describe_cpu() -> dict[str, Any]:
    """The CPU model, its vector instruction sets and the variables that restrict them: values rebuilt on
    another CPU may differ in the last bits (float kernels differ by instruction set)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name":
                model = value.strip()
            elif name.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    return {"model": model, "isa": [f for f in _ISA_FLAGS if f in flags],
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "restricted": {k: os.environ[k] for k in ("ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS",
                                                      "ATEN_CPU_CAPABILITY") if k in os.environ}}


def describe_machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "python": sys.version.split()[0], "torch": torch.__version__,
            "numpy": np.__version__, "cpus": os.cpu_count(), "cpu": describe_cpu(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def command_line(argv: list[str] | None = None) -> str:
    """How this build was invoked, without machine paths: ``robnas`` and its arguments as given, quoted for a
    shell (an override with spaces stays one argument when the command is run again)."""
    args = list(sys.argv if argv is None else argv)[1:]
    return shlex.join(["robnas", *args])


# The meta fields that define a benchmark: resumed builds and merged shards must agree on all of them.
@dataclass(frozen=True)
class BenchmarkIdentity:
    """What a benchmark is (stored in its meta): a resumed build must match it exactly, and so must
    every part of a merge. The number of replicates is not part of it: a resume may add replicates."""

    format_robnas: str
    space: str
    dataset: str
    recipe_name: str
    recipe: dict[str, Any]
    protocol: dict[str, Any]
    seed: int
    proxies: list[str]
    proxies_at: list[str]


#: The meta keys that say what a benchmark is (the fields of BenchmarkIdentity).
IDENTITY_FIELDS = tuple(f.name for f in fields(BenchmarkIdentity))


def identity(space: str, dataset: str, recipe_name: str, recipe: Recipe, protocol: Any, seed: int,
             proxies: tuple[str, ...], at: tuple[str, ...]) -> dict[str, Any]:
    """What the benchmark of a build is, as its meta stores it."""
    return asdict(BenchmarkIdentity(__version__, space, dataset, recipe_name, recipe.to_dict(), protocol.to_dict(),
                                    seed, list(proxies), list(at)))


@dataclass
class BuildRecord:
    """One invocation of a build, kept in the benchmark's meta from its start and counted with every run in the
    run's own transaction, so a build that is killed still shows exactly what it did (every run of every
    shard is in the record)."""

    command: str
    shard: str | None
    seeds: int
    backend: dict[str, Any]
    started: float = field(default_factory=time.time)
    wall_seconds: float = 0.0
    built: int = 0
    failed: int = 0
    finished: bool = False
    machine: dict[str, Any] = field(default_factory=describe_machine)
    robnas: str = __version__

    def entry(self, builds: list[dict[str, Any]], index: int) -> dict[str, Any]:
        """The meta update that records this invocation as build ``index``."""
        self.wall_seconds = time.time() - self.started
        return {"builds": [*builds[:index], asdict(self), *builds[index + 1:]]}


def build_benchmark(path: Path, builder: ArchBuilder, archs: list[str], seeds: int, meta: dict[str, Any],
                    backend: Any, record: BuildRecord, quiet: bool = False) -> Path:
    """Run ``builder`` on every (architecture, replicate < ``seeds``) not yet in ``path`` (created with
    ``meta`` when new) on ``backend``, one transaction per run; pack the columns once every run is in."""
    space = get_space(builder.space, **builder.space_params)
    with BenchmarkFile(path, readonly=False) as bench:
        if not bench.meta():
            bench.set_meta({**meta, "builds": []})
        bench.set_meta({"replicates": max(seeds, int(bench.meta().get("replicates", 1)))})
        done = bench.done_runs()
        tasks = [(a, r) for a in archs for r in range(seeds) if (space.key(a), r) not in done]
        if not quiet:
            print(f"{len(archs)} architectures x {seeds} replicates, {len(archs) * seeds - len(tasks)} runs already "
                  f"in {path}, {len(tasks)} to build", file=sys.stderr)
        builds = bench.meta().get("builds", [])
        index = len(builds)
        bench.set_meta(record.entry(builds, index))
        progress = ArchProgress(len(tasks), quiet=quiet)
        try:
            for _, result in backend.imap_unordered(builder, tasks):
                record.built += 1
                record.failed += result.status != "done"
                bench.add(result, record.entry(builds, index))
                progress.update(result)
            record.finished = True
        finally:
            backend.close()
            progress.close()
            bench.set_meta(record.entry(builds, index))
        wanted = {(space.key(a), r) for a in archs for r in range(seeds)}
        if wanted <= bench.done_runs():
            bench.pack()
    return path
