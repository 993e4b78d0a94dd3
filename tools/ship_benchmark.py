"""Join the committed shards of a benchmark build and ship the whole benchmark in the package.

    python tools/ship_benchmark.py data/builds/digits-nb201 digits-nb201 [--out DIR] [--allow-partial]

Reads every ``<shard>.sqlite.xz`` with its ``<shard>.build.json`` (written by ``tools/pack_shard.py``),
checks that they are the shards 1..M of one build (same robnas commit, recipe, protocol and proxies,
every K of M present) and that each decompresses to the SHA-256 its record names, merges them with
``robnas bench merge``'s code, and ships the result through :func:`robnas.bench.shipped.ship` as
``<out>/<name>.sqlite.xz`` + ``<name>.build.json`` (default ``<out>``: ``src/robnas/bench/data``), the
build record listing every shard's command, wall time and machine. ``--allow-partial`` merges what
is there (a dry run of the pipeline; it refuses to write a partial benchmark into the package).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from robnas.bench.benchmark import Benchmark
from robnas.bench.shipped import DATA, SUFFIX, decompress_checked, ship
from robnas.pipeline.bench.merge import merge

SAME = ("robnas_commit", "recipe", "protocol", "proxies")


def _records(shards: Path) -> list[dict]:
    records = []
    for path in sorted(shards.glob("*.build.json")):
        record = json.loads(path.read_text())
        record["_xz"] = path.with_name(path.name[: -len(".build.json")] + SUFFIX)
        if not record["_xz"].is_file():
            raise SystemExit(f"{path}: its packed shard {record['_xz'].name} is missing")
        records.append(record)
    if not records:
        raise SystemExit(f"{shards}: no shard build records (*.build.json); pack shards with tools/pack_shard.py")
    return records


def _check(records: list[dict], allow_partial: bool) -> int:
    """The number of shards M; refuses mixed builds and (unless allowed) missing shards."""
    for field in SAME:
        values = {json.dumps(r.get(field)) for r in records}
        if len(values) > 1:
            raise SystemExit(f"the shards differ in {field} ({', '.join(sorted(values))}); ship shards of one build")
    specs = [r["builds"][-1]["shard"] for r in records]
    total = {int(s.split("/")[1]) for s in specs}
    if len(total) != 1:
        raise SystemExit(f"the shards split the space differently ({', '.join(specs)})")
    m = total.pop()
    missing = sorted(set(range(1, m + 1)) - {int(s.split("/")[0]) for s in specs})
    if missing and not allow_partial:
        raise SystemExit(f"shards {', '.join(f'{k}/{m}' for k in missing)} are not built yet; ship a whole benchmark")
    return m


def _shard_command(build: dict) -> str:
    """The shard command as a user types it (``robnas bench build ... --shard K/M``)."""
    command = build["command"]
    return "robnas " + command[command.index("bench build"):].replace(f"--shard {build['shard']}", "--shard K/M")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shards", type=Path, help="the directory of the packed shards")
    parser.add_argument("name", help="the shipped benchmark's name")
    parser.add_argument("--out", type=Path, default=DATA)
    parser.add_argument("--allow-partial", action="store_true")
    args = parser.parse_args()
    records = _records(args.shards)
    m = _check(records, args.allow_partial)
    partial = len(records) < m
    if partial and args.out.resolve() == DATA.resolve():
        raise SystemExit("a partial benchmark is never shipped in the package: pass --out DIR for a dry run")
    with tempfile.TemporaryDirectory() as tmp:
        parts = [decompress_checked(r["_xz"], Path(tmp) / r["_xz"].name[: -len(".xz")], r["sha256"],
                                    str(r["_xz"]), "re-pack the shard with tools/pack_shard.py") for r in records]
        merged = Path(tmp) / f"{args.name}.sqlite"
        merge(merged, parts)
        with Benchmark(merged) as bench:
            count = len(bench.archs())
        builds = [b for r in records for b in r["builds"]]
        first = records[0]
        record = {"name": args.name, "architectures": count,
                  **{field: first.get(field) for field in SAME},
                  "shards": m, "wall_seconds": round(sum(b["wall_seconds"] for b in builds), 1),
                  "command": _shard_command(builds[0]),
                  "merge": f"robnas bench merge {args.name}.sqlite " + " ".join(p.name for p in parts),
                  "machine": builds[0]["machine"], "builds": builds}
        args.out.mkdir(parents=True, exist_ok=True)
        packed = ship(merged, args.name, record, directory=args.out)
    hours = record["wall_seconds"] / 3600
    print(f"{packed}: {packed.stat().st_size / 1e6:.2f} MB, {count} architectures from {len(records)} of {m} "
          f"shards, {hours:.2f} h of build wall time")


if __name__ == "__main__":
    main()
