"""Benchmarks shipped with robnas: compressed files in ``robnas/bench/data/``, opened by name.

A shipped benchmark is ``<name>.sqlite.xz`` plus its build record ``<name>.build.json`` (command,
recipe, protocol, wall time, machine, versions). On first use it is decompressed once into the
user's cache (``$XDG_CACHE_HOME/robnas`` or ``~/.cache/robnas``), checked against the SHA-256 in its
build record, and opened read-only from there.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import shutil
from pathlib import Path

from robnas.bench.benchmark import Benchmark
from robnas.bench.store import BenchmarkFile
from robnas.errors import DataError, UnknownNameError
from robnas.store.atomic import atomic_path

DATA = Path(__file__).resolve().parent / "data"
SUFFIX = ".sqlite.xz"


def shipped_names() -> list[str]:
    return sorted(p.name[: -len(SUFFIX)] for p in DATA.glob(f"*{SUFFIX}"))


def shipped_record(name: str) -> dict:
    """The build record shipped beside benchmark ``name`` ({} when absent)."""
    path = DATA / f"{name}.build.json"
    return json.loads(path.read_text()) if path.exists() else {}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "robnas" / "bench"


def unpacked(name: str) -> Path:
    """The decompressed file of shipped benchmark ``name`` (decompressed and verified on first use)."""
    packed = DATA / f"{name}{SUFFIX}"
    if not packed.is_file():
        raise UnknownNameError(f"unknown benchmark {name!r}: not a file and not shipped with robnas; shipped: "
                               f"{', '.join(shipped_names()) or 'none'}")
    digest = shipped_record(name).get("sha256")
    target = cache_dir() / f"{name}-{(digest or 'unverified')[:16]}.sqlite"
    if not target.exists():
        decompress_checked(packed, target, digest, f"shipped benchmark {name}", "reinstall robnas")
    return target


def decompress_checked(packed: Path, target: Path, digest: str | None, what: str, fix: str) -> Path:
    """Decompress ``packed`` (xz) into ``target``, which appears only if its SHA-256 is ``digest`` (None:
    not checked); otherwise one error line naming ``what`` and the ``fix``."""
    sha = hashlib.sha256()
    with atomic_path(target) as tmp, lzma.open(packed) as src, open(tmp, "wb") as dst:
        while chunk := src.read(1 << 20):
            sha.update(chunk)
            dst.write(chunk)
        if digest is not None and sha.hexdigest() != digest:
            raise DataError(f"{what} does not match its build record's SHA-256; {fix}")
    return target


def open_benchmark(source: str | os.PathLike[str]) -> Benchmark:
    """A benchmark file by path, or a shipped benchmark by name."""
    path = Path(source)
    if path.is_file():
        return Benchmark(path)
    if path.suffix or os.sep in str(source):
        raise DataError(f"benchmark file {path} does not exist; pass a file made by `robnas bench build` / "
                        f"`import`, or a shipped name ({', '.join(shipped_names()) or 'none shipped'})")
    return Benchmark(unpacked(str(source)), immutable=True, name=str(source))


def ship(path: str | os.PathLike[str], name: str, record: dict, directory: Path = DATA) -> Path:
    """Compress a finished benchmark into ``directory`` (default ``robnas/bench/data``) as
    ``<name>.sqlite.xz`` with its build record ``<name>.build.json`` (maintainers only; also the
    committed shards of a build that spans sessions)."""
    source = Path(path)
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    packed = directory / f"{name}{SUFFIX}"
    with atomic_path(packed) as tmp, open(source, "rb") as src, lzma.open(tmp, "wb", preset=9 | lzma.PRESET_EXTREME) as dst:
        shutil.copyfileobj(src, dst)
    with atomic_path(directory / f"{name}.build.json") as tmp:
        tmp.write_text(json.dumps({**record, "sha256": sha, "bytes": source.stat().st_size}, indent=2) + "\n")
    return packed


def build_record(path: str | os.PathLike[str], name: str, commit: str | None = None) -> dict:
    """The record shipped beside a benchmark: what it is (space, dataset, recipe, protocol, proxies, replicates),
    every build invocation (command, shard, wall time, machine, CPU model and instruction sets), the summed
    wall time, and the robnas commit that built it (when given)."""
    with Benchmark(path) as bench:
        meta = bench.meta
        builds = list(meta.get("builds", []))
        record = {"name": name, "architectures": len(bench), "replicates": len(bench.replicates),
                  "test_points": bench.test_points, "space": bench.space, "dataset": bench.dataset,
                  "recipe": meta.get("recipe_name"), "recipe_settings": meta.get("recipe"),
                  "protocol": (meta.get("protocol") or {}).get("name"), "proxies": meta.get("proxies", []),
                  "robnas_commit": commit, "builds": builds,
                  "wall_seconds": round(sum(b.get("wall_seconds", 0.0) for b in builds), 1),
                  "runs": sum(b.get("built", 0) for b in builds),
                  "machine": builds[0].get("machine") if builds else None,
                  "merged": meta.get("merged")}
        failed = int((bench.status() != "done").sum())
    if failed:
        raise DataError(f"{path} has {failed} failed architectures; rebuild them before shipping")
    return record


def ship_benchmark(path: str | os.PathLike[str], name: str, directory: Path = DATA, commit: str | None = None) -> Path:
    """``robnas bench ship FILE NAME``: compress a finished benchmark (packed, vacuumed) with its build record
    into ``directory`` -- the package's data (to ship it) or a folder of committed shards of a build that
    spans sessions."""
    record = build_record(path, name, commit)
    with BenchmarkFile(path, readonly=False) as file:
        file.pack()
        file.checkpoint()
    directory.mkdir(parents=True, exist_ok=True)
    return ship(path, name, record, directory)
