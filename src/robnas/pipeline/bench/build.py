"""``robnas bench build FILE``: train and evaluate every architecture of a space (or a sample) into a benchmark.

For each architecture -- one per canonical key; in NAS-Bench-201 the representative (lowest id) of
each of the 6466 classes -- a worker builds the network with the space's builder at the recipe's
size, computes the chosen proxies at initialisation, trains it with the recipe, computes the
proxies of the trained network, and evaluates it with the protocol (every threat model at every
radius, every corruption at every severity: accuracy, mean confidence, confusion matrix). The
driver writes each finished architecture in one transaction; ``kill -9`` loses only the
architectures still running, and ``--resume`` evaluates exactly the missing ones.

Every architecture's numbers depend only on the run seed, its canonical key, the recipe, the
protocol and the data subset (its seed is derived from the key, its whole evaluation runs under
``torch.random.fork_rng``), never on the worker, the backend or the order: ``--only ARCH`` into a
fresh file reproduces them.
"""

from __future__ import annotations

import os
import platform
import random
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robnas import __version__
from robnas.bench.store import ArchResult, BenchmarkFile, check_identity
from robnas.config import config_to_dict
from robnas.pipeline.config import RunConfig
from robnas.errors import DataError, InvalidValueError, TrainingDivergedError
from robnas.eps import Eps
from robnas.pipeline.candidates import cached_data, candidate_threads, thread_limit
from robnas.search.discrete.evaluators import evaluation_seed
from robnas.store.atomic import atomic_path

PROXY_POINTS = 64        # training points proxies are computed on (a fixed, seeded subset)
# Workers are replaced after this many architectures: every architecture's frozen inference graph
# (TorchScript) keeps about 5 MB that PyTorch never frees, i.e. 16 GB per worker over the whole NB201
# space; a fresh worker costs a few seconds of start-up per 200 architectures.
ARCHS_PER_WORKER = 200


@dataclass(frozen=True)
class ArchBuilder:
    """Build, train and evaluate one architecture: a picklable callable shipped to workers."""

    space: str
    data: dict[str, Any]
    recipe: dict[str, Any]
    protocol: str
    eval: dict[str, Any] = field(default_factory=dict)   # the [eval] section, for protocol "eval"
    proxies: tuple[str, ...] = ()
    at: tuple[str, ...] = ("init", "trained")
    seed: int = 0
    replicate: int = 0        # replicate r trains and evaluates with the seed of run seed + r; data from the run seed
    device: str = "cpu"
    threads: int = 0
    keep_weights: str | None = None
    space_params: dict[str, Any] = field(default_factory=dict)

    def __call__(self, arch: str) -> ArchResult:
        from robnas.config import config_from_dict
        from robnas.evaluation import evaluate
        from robnas.metrics import count_flops, count_params, nb201_cost
        from robnas.proxies import compute
        from robnas.spaces import get_space
        from robnas.store.run_dir import RunDir
        from robnas.train import train_model
        from robnas.train.recipes import Recipe

        space = get_space(self.space, **self.space_params)
        arch = space.validate(arch)
        key = space.key(arch)
        seed = evaluation_seed(self.seed + self.replicate, key)
        prepared = cached_data(self.data, self.seed, self.device)
        dataset = prepared.dataset
        shape = (dataset.in_channels, *dataset.image_size)
        recipe = config_from_dict(Recipe, self.recipe, prefix="recipe.")
        protocol = resolve_protocol(self.protocol, self.eval)
        ident = _nb201_id(self.space, arch)
        result = ArchResult(key=key, arch=arch, ident=ident, seed=seed,
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
            with thread_limit(candidate_threads(model, shape, self.threads)):
                if "init" in self.at:
                    self._proxies(compute, model, px, py, "init", seed, result)
                started = time.perf_counter()
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
                result.info["train_acc"] = history[-1]["train_acc"] if history else None
                if self.keep_weights:
                    _keep(model, Path(self.keep_weights), key)
                if "trained" in self.at:
                    self._proxies(compute, model, px, py, "trained", seed, result)
                evaluated = time.perf_counter()
                record = evaluate(model, dataset.test, protocol, dataset.num_classes, seed=seed, quiet=True,
                                  reliability=False)
                result.eval_seconds = time.perf_counter() - evaluated
        result.measures.update(record_measures(record))
        return result

    def _proxies(self, compute: Any, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, when: str, seed: int,
                 result: ArchResult) -> None:
        for name in self.proxies:
            began = time.perf_counter()
            value = compute(name, model, x, y, seed=seed)
            result.measures[(f"proxy:{name}@{when}", "value")] = np.asarray(value, dtype=np.float64)
            result.info[f"proxy_seconds:{name}@{when}"] = time.perf_counter() - began


def resolve_protocol(name: str, eval_section: dict[str, Any]) -> Any:
    """A named protocol, or (``eval``) the ad-hoc protocol of an ``[eval]`` section."""
    from robnas.config import config_from_dict
    from robnas.evaluation import get_protocol, protocol_for
    from robnas.evaluation.settings import EvalConfig

    if name == "eval":
        return protocol_for(config_from_dict(EvalConfig, eval_section, prefix="eval."))
    return get_protocol(name)


def record_measures(record: Any) -> dict[tuple[str, str], np.ndarray]:
    """The benchmark's measures of an evaluation record: accuracy as an exact fraction (correct / n from
    the confusion matrix), confidence, confusion matrices; lists over radii and severities."""
    out: dict[tuple[str, str], np.ndarray] = {}

    def put(key: str, measures: list[Any]) -> None:
        cms = np.asarray([m.cm for m in measures], dtype=np.int64)
        out[(key, "accuracy")] = np.trace(cms, axis1=1, axis2=2) / cms.sum(axis=(1, 2)).clip(min=1)
        out[(key, "confidence")] = np.asarray([m.confidence for m in measures], dtype=np.float64)
        out[(key, "cm")] = cms

    put("clean", [record.clean])
    for k in ("accuracy", "confidence", "cm"):
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
    for name in protocol.corruptions:
        axes[name] = {"kind": "corruption", "axis": list(protocol.severities)}
    for name in proxies:
        for when in at:
            axes[f"proxy:{name}@{when}"] = {"kind": "proxy", "axis": [], "proxy": name, "at": when}
    return axes


def _nb201_id(space: str, arch: str) -> int | None:
    if space != "nb201":
        return None
    from robnas.spaces.nb201 import index_of, representative

    return representative(index_of(arch))


def weights_file(directory: Path, key: str) -> Path:
    """Where ``--keep-weights`` stores an architecture's trained network (named by a hash of its key)."""
    import hashlib

    return directory / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.pt"


def _keep(model: torch.nn.Module, directory: Path, key: str) -> None:
    with atomic_path(weights_file(directory, key)) as tmp:
        torch.save({"model_spec": model.spec, "model_state": model.state_dict(), "key": key}, tmp)


# --- which architectures ------------------------------------------------------------------------


def whole_space(space: Any) -> list[str]:
    """One architecture per canonical key of a finite space (NB201: the lowest id of each class)."""
    if space.name == "nb201":
        from robnas.spaces.nb201 import arch_str
        from robnas.spaces.nb201.index import unique_ids

        return [arch_str(i) for i in unique_ids()]
    size = space.size()
    if size is None or size > 200_000:
        raise InvalidValueError(f"the {space.name} space is too large to build whole; pass --sample N")
    raise InvalidValueError(f"building the whole {space.name} space needs its enumeration; pass --sample N")


def stratified_sample(space: Any, count: int, seed: int, build: dict[str, Any], in_channels: int,
                      num_classes: int) -> list[str]:
    """``count`` architectures spread over the parameter-count range: the candidates (the whole space when it
    is enumerable, else 20x ``count`` random draws) sorted by parameters and cut into ``count`` equal bins,
    one seeded draw per bin."""
    rng = random.Random(seed)
    try:
        pool = whole_space(space)
    except InvalidValueError:
        seen: dict[str, str] = {}
        for _ in range(20 * count):
            arch = space.sample(rng)
            seen.setdefault(space.key(arch), arch)
        pool = list(seen.values())
    if count > len(pool):
        raise InvalidValueError(f"--sample {count} exceeds the {len(pool)} distinct architectures available")
    sizes = [space.count_params(a, num_classes=num_classes, in_channels=in_channels, **build) for a in pool]
    order = sorted(range(len(pool)), key=lambda i: (sizes[i], space.key(pool[i])))
    bins = np.array_split(np.array(order), count)
    return [pool[int(rng.choice(list(b)))] for b in bins]


def parse_shard(text: str) -> tuple[int, int] | None:
    """``"K/M"`` -> (K, M) with 1 <= K <= M; ``""`` -> None."""
    if not text:
        return None
    k, sep, m = text.partition("/")
    if not sep or not k.strip().isdigit() or not m.strip().isdigit() or not 1 <= int(k) <= int(m):
        raise InvalidValueError(f"--shard must be K/M with 1 <= K <= M (e.g. 1/8), got {text!r}")
    return int(k), int(m)


def chosen_archs(cfg: RunConfig, space: Any, recipe: Any, dataset: Any) -> list[str]:
    """The architectures a build covers: ``--only``, a ``--sample`` or the whole space, then its ``--shard``."""
    return shard_of(_listed_archs(cfg, space, recipe, dataset), cfg.bench.shard)


def shard_of(items: list[Any], shard: str) -> list[Any]:
    """The items of shard ``"K/M"`` (every M-th from the K-th); all of them for ``""``."""
    parsed = parse_shard(shard)
    return items if parsed is None else items[parsed[0] - 1::parsed[1]]


def _listed_archs(cfg: RunConfig, space: Any, recipe: Any, dataset: Any) -> list[str]:
    b = cfg.bench
    if b.only:
        out = []
        for item in b.only:
            text = item.strip()
            if text.isdigit():
                if space.name != "nb201":
                    raise InvalidValueError(f"numeric ids name NAS-Bench-201 cells; the {space.name} space takes "
                                            "arch strings")
                from robnas.spaces.nb201 import arch_str, representative

                text = arch_str(representative(int(text)))
            out.append(space.validate(text))
        return list(dict.fromkeys(out))
    if b.sample < 0:
        raise InvalidValueError(f"--sample must be >= 0 (0 = the whole space), got {b.sample}")
    if b.sample:
        return stratified_sample(space, b.sample, cfg.seed, recipe.build, dataset.in_channels, dataset.num_classes)
    return whole_space(space)


# --- the job ------------------------------------------------------------------------------------


def describe_machine() -> dict[str, Any]:
    return {"host": socket.gethostname(), "platform": platform.platform(), "python": sys.version.split()[0],
            "torch": torch.__version__, "numpy": np.__version__, "cpus": os.cpu_count(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


# The meta fields that define a benchmark: resumed builds and merged shards must agree on all of them.
@dataclass(frozen=True)
class BenchmarkIdentity:
    """What a benchmark is (stored in its meta): a resumed build must match it exactly, and so must
    every part of a merge."""

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


def identity(cfg: RunConfig, recipe: Any, protocol: Any) -> dict[str, Any]:
    """What the benchmark of this build is, as its meta stores it."""
    return asdict(BenchmarkIdentity(__version__, cfg.bench.space, cfg.data.name, cfg.bench.recipe, recipe.to_dict(),
                                    protocol.to_dict(), cfg.seed, list(cfg.bench.proxies), list(cfg.bench.at)))


def run(cfg: RunConfig) -> Path:
    from robnas.data.prepare import load_configured
    from robnas.proxies import list_proxies
    from robnas.search.discrete.backends import check_backend, create_backend
    from robnas.spaces import get_space
    from robnas.train.recipes import get_recipe

    b = cfg.bench
    if len(b.targets) != 1:
        raise InvalidValueError("robnas bench build takes one argument: the benchmark file to build (or resume)")
    path = Path(b.targets[0])
    parse_shard(b.shard)  # a malformed shard fails before any work
    space = get_space(b.space)
    recipe = get_recipe(b.recipe, b.recipe_overrides)
    protocol = resolve_protocol(b.protocol, config_to_dict(cfg.eval))
    for name in b.proxies:
        if name not in list_proxies():
            from robnas.proxies import get_proxy

            get_proxy(name)  # the registry's one-line error
    if not set(b.at) <= {"init", "trained"} or not b.at:
        raise InvalidValueError(f"--at must be init, trained or both, got {','.join(b.at)!r}")
    check_backend(b.backend, b.workers, b.address)
    data = {**config_to_dict(cfg.data), "train_size": recipe.train_size, "test_size": recipe.test_size,
            "resize": recipe.resize}
    dataset = load_configured(cfg.data.__class__(**data), "cpu", cfg.seed)
    archs = chosen_archs(cfg, space, recipe, dataset)
    wanted = identity(cfg, recipe, protocol)
    if path.exists() and not cfg.resume:
        raise InvalidValueError(f"{path} exists; pass --resume to continue building it, or choose another file")
    if cfg.resume and path.exists():
        with BenchmarkFile(path, readonly=True) as existing:
            check_identity(existing.meta(), wanted, path)

    builder = ArchBuilder(space=b.space, data=data, recipe=recipe.to_dict(), protocol=b.protocol,
                          eval=config_to_dict(cfg.eval),
                          proxies=tuple(b.proxies), at=tuple(b.at), seed=cfg.seed, device=cfg.device,
                          threads=cfg.threads, keep_weights=b.keep_weights)
    started = time.time()
    with BenchmarkFile(path, readonly=False) as bench:
        if not bench.meta():
            bench.set_meta({**wanted, "axes": axes_of(protocol, tuple(b.proxies), tuple(b.at)), "recipe_text": recipe.to_toml(),
                            "created": started, "builds": []})
        done = bench.done_keys()
        todo = [a for a in archs if space.key(a) not in done]
        log = f"{len(archs)} architectures, {len(archs) - len(todo)} already in {path}, {len(todo)} to build"
        if not cfg.quiet:
            print(log, file=sys.stderr)
        backend = create_backend(b.backend, b.workers, b.address, tasks_per_worker=ARCHS_PER_WORKER)
        from robnas.pipeline.bench.progress import ArchProgress

        progress = ArchProgress(len(todo), quiet=cfg.quiet)
        try:
            for _, result in backend.imap_unordered(builder, todo):
                bench.add(result)
                progress.update(result)
        finally:
            backend.close()
            progress.close()
        builds = bench.meta().get("builds", [])
        builds.append({"command": " ".join(sys.argv), "shard": b.shard or None, "started": started,
                       "wall_seconds": time.time() - started,
                       "built": progress.count, "backend": backend.describe(), "machine": describe_machine(),
                       "robnas": __version__})
        bench.set_meta({"builds": builds})
        if len(bench.done_keys() & {space.key(a) for a in archs}) == len(archs):
            bench.pack()
    return path
