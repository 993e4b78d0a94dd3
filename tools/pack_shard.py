"""Compress a finished shard of a benchmark build for the repository, with its build record.

    python tools/pack_shard.py SHARD.sqlite OUT_DIR [--commit SHA]

A shard (``robnas bench build --shard K/M``) is committed only when whole: this refuses a shard
that has fewer architectures than its slice of the space. It writes ``OUT_DIR/<name>.xz`` (the
file checkpointed and vacuumed first) and ``OUT_DIR/<name>.json``: the build record (commands, wall
times, machine, versions, the robnas commit the build ran) and the file's SHA-256. The shards of one
benchmark are joined by ``robnas bench merge`` and shipped with ``robnas.bench.shipped.ship``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import sqlite3
import tempfile
from pathlib import Path

from robnas.bench.store import BenchmarkFile
from robnas.pipeline.bench.build import parse_shard
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
            shard = parse_shard(meta["builds"][-1].get("shard") or "")
            expected = len(unique_ids()) if shard is None else len(unique_ids()[shard[0] - 1::shard[1]])
            have = len(bench.done_keys())
            if have != expected:
                raise SystemExit(f"{args.shard}: {have} of {expected} architectures; pack a shard only when whole")
            bench.pack()
            bench.checkpoint()
        data = copy.read_bytes()
        args.out.mkdir(parents=True, exist_ok=True)
        packed = args.out / f"{args.shard.name}.xz"
        with lzma.open(packed, "wb", preset=9 | lzma.PRESET_EXTREME) as fh:
            fh.write(data)
    record = {"file": packed.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
              "architectures": have, "robnas_commit": args.commit, "builds": meta["builds"],
              "recipe": meta["recipe_name"], "protocol": meta["protocol"]["name"], "proxies": meta["proxies"]}
    (args.out / f"{args.shard.name}.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    print(f"{packed}: {packed.stat().st_size / 1e6:.2f} MB ({len(data) / 1e6:.1f} MB unpacked), {have} architectures")


if __name__ == "__main__":
    main()
