"""``robnas bench build FILE``: the command's settings turned into a benchmark build (:mod:`robnas.bench.builder`).

Everything is checked before the file is touched: the space, recipe, protocol, proxies, backend, the
architectures (``--only`` / ``--sample`` / ``--shard``), ``--seeds`` and, with ``--resume``, that the
file describes the same benchmark.
"""

from __future__ import annotations

from pathlib import Path

from robnas.backends import check_backend, create_backend
from robnas.bench.builder import (
    ARCHS_PER_WORKER,
    ArchBuilder,
    BuildRecord,
    axes_of,
    build_benchmark,
    command_line,
    identity,
    resolve_protocol,
)
from robnas.bench.selection import chosen_archs, parse_shard
from robnas.bench.store import BenchmarkFile, check_identity
from robnas.config import config_to_dict
from robnas.data.prepare import load_configured
from robnas.errors import InvalidValueError
from robnas.evaluation import check_evaluable
from robnas.pipeline.config import RunConfig
from robnas.proxies import get_proxy
from robnas.spaces import get_space
from robnas.train.recipes import get_recipe


def run(cfg: RunConfig) -> Path:
    b = cfg.bench
    if len(b.targets) != 1:
        raise InvalidValueError("robnas bench build takes one argument: the benchmark file to build (or resume)")
    path = Path(b.targets[0])
    parse_shard(b.shard)  # a malformed shard fails before any work
    space = get_space(b.space)
    recipe = get_recipe(b.recipe, b.recipe_overrides)
    protocol = resolve_protocol(b.protocol, config_to_dict(cfg.eval))
    for name in b.proxies:
        get_proxy(name)  # the registry's one-line error
    if not set(b.at) <= {"init", "trained"} or not b.at:
        raise InvalidValueError(f"--at must be init, trained or both, got {','.join(b.at)!r}")
    check_backend(b.backend, b.workers, b.address)
    data = {**config_to_dict(cfg.data), "train_size": recipe.train_size, "test_size": recipe.test_size,
            "resize": recipe.resize}
    dataset = load_configured(cfg.data.__class__(**data), "cpu", cfg.seed)
    archs = chosen_archs(space, b.only, b.sample, cfg.seed, b.shard, recipe.build, dataset.in_channels,
                         dataset.num_classes)
    if archs:  # what the evaluation refuses (certify) depends on module types: one network of the space shows it
        check_evaluable(space.build(archs[0], num_classes=dataset.num_classes, in_channels=dataset.in_channels,
                                    **recipe.build), protocol)
    wanted = identity(b.space, cfg.data.name, b.recipe, recipe, protocol, cfg.seed, tuple(b.proxies), tuple(b.at))
    if path.exists() and not cfg.resume:
        raise InvalidValueError(f"{path} exists; pass --resume to continue building it, or choose another file")
    if cfg.resume and path.exists():
        with BenchmarkFile(path, readonly=True) as existing:
            check_identity(existing.meta(), wanted, path)
    builder = ArchBuilder(space=b.space, data=data, recipe=recipe.to_dict(), protocol=b.protocol,
                          eval=config_to_dict(cfg.eval), proxies=tuple(b.proxies), at=tuple(b.at), seed=cfg.seed,
                          device=cfg.device, threads=cfg.threads, keep_weights=b.keep_weights)
    meta = {**wanted, "axes": axes_of(protocol, tuple(b.proxies), tuple(b.at)), "recipe_text": recipe.to_toml(),
            "test_points": len(dataset.test)}
    backend = create_backend(b.backend, b.workers, b.address, tasks_per_worker=ARCHS_PER_WORKER)
    record = BuildRecord(command_line(), b.shard or None, b.seeds, backend.describe())
    return build_benchmark(path, builder, archs, b.seeds, meta, backend, record, quiet=cfg.quiet)
