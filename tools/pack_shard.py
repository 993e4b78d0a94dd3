"""Compress a finished shard of a benchmark build for the repository, with its build record.

    python tools/pack_shard.py SHARD.sqlite OUT_DIR [--commit SHA]

A shard (``robnas bench build --shard K/M``) is committed only when whole: this refuses a shard
that has fewer architectures than its slice of the space. It writes, through
:func:`robnas.bench.shipped.ship`, ``OUT_DIR/<name>.sqlite.xz`` (the file packed into columns,
checkpointed and vacuumed first) and ``OUT_DIR/<name>.build.json``: the build record (commands, wall
times, machine, versions, the robnas commit the build ran) with the file's SHA-256. The shards of one
benchmark are joined by ``robnas bench merge`` and shipped with ``ship`` into the package.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
from pathlib import Path

from robnas.bench.shipped import SUFFIX, ship
from robnas.bench.store import BenchmarkFile
from robnas.pipeline.bench.build import shard_of
from robnas.spaces.nb201.index import unique_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shard", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--commit", default=None, help="the robnas commit the build ran")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / args.shard.name
        with sqlite3.connect(args.shard) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)  # a consistent copy, WAL included, without touching the build's file
        with BenchmarkFile(copy, readonly=False) as bench:
            meta = bench.meta()
            expected = len(shard_of(unique_ids(), meta["builds"][-1].get("shard") or ""))
            have = len(bench.done_keys())
            if have != expected:
                raise SystemExit(f"{args.shard}: {have} of {expected} architectures; pack a shard only when whole")
            bench.pack()
            bench.checkpoint()
        record = {"architectures": have, "robnas_commit": args.commit, "builds": meta["builds"],
                  "recipe": meta["recipe_name"], "protocol": meta["protocol"]["name"], "proxies": meta["proxies"]}
        packed = ship(copy, args.shard.stem, record, directory=args.out)
    print(f"{packed}: {packed.stat().st_size / 1e6:.2f} MB, {have} architectures ({SUFFIX} + .build.json)")


if __name__ == "__main__":
    main()
