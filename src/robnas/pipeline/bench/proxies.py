"""``robnas bench proxies BENCH --proxies NAMES [--at init,trained]``: :func:`robnas.bench.proxy_columns.add_proxies`."""

from __future__ import annotations

from pathlib import Path

from robnas.backends import check_backend, create_backend
from robnas.bench.proxy_columns import add_proxies
from robnas.errors import InvalidValueError
from robnas.pipeline.config import RunConfig


def run(cfg: RunConfig) -> Path:
    b = cfg.bench
    if len(b.targets) != 1:
        raise InvalidValueError("robnas bench proxies takes one argument: the benchmark file to add proxies to")
    check_backend(b.backend, b.workers, b.address)
    return add_proxies(Path(b.targets[0]), tuple(b.proxies), tuple(b.at), b.keep_weights,
                       lambda: create_backend(b.backend, b.workers, b.address), data_root=cfg.data.root, device=cfg.device,
                       threads=cfg.threads, quiet=cfg.quiet)
