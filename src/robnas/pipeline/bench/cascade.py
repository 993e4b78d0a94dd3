"""``robnas bench cascade BENCH --after KEY --attack NAME --eps R --keep-weights DIR``: a stronger attack on the
points the benchmark's attack left standing (:func:`robnas.bench.cascade.add_cascade`)."""

from __future__ import annotations

from pathlib import Path

from robnas.backends import check_backend, create_backend
from robnas.bench.cascade import add_cascade
from robnas.errors import InvalidValueError
from robnas.pipeline.config import RunConfig


def run(cfg: RunConfig) -> Path:
    b = cfg.bench
    c = b.cascade
    if len(b.targets) != 1:
        raise InvalidValueError("robnas bench cascade takes one argument: the benchmark file")
    if not (c.after and c.attack and c.eps):
        raise InvalidValueError("robnas bench cascade needs --after KEY (an attack key of the benchmark), --attack NAME "
                                "and --eps R (one of its radii)")
    if not b.keep_weights:
        raise InvalidValueError("a cascade attacks the trained networks: pass --keep-weights DIR (the directory "
                                "`robnas bench build --keep-weights` filled)")
    check_backend(b.backend, b.workers, b.address)
    add_cascade(Path(b.targets[0]), c.after, c.attack, c.eps, b.keep_weights,
                lambda: create_backend(b.backend, b.workers, b.address), dict(c.params), cfg.data.root, cfg.device,
                cfg.threads, cfg.quiet)
    return Path(b.targets[0])
