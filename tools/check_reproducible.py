"""Rebuild a few architectures of a benchmark from scratch and compare every measure with the stored ones.

    python tools/check_reproducible.py BENCH [--archs 5] [--seed 0] [--workers 2]

BENCH is a benchmark file or a shipped name. The architectures are drawn at random (seeded); each is
rebuilt in a fresh temporary directory with the benchmark's own last build command, its output file
replaced and ``--shard`` / ``--resume`` replaced by ``--only`` (the issue's promise: ``robnas bench
build ... --only ARCH`` in a fresh directory gives the same values). Prints, per architecture, whether
every stored measure (accuracies, confidences, confusion matrices, proxies), its seed, parameters and
FLOPs are bit for bit equal, and the differences where not; exits 1 if any differs. Timings are not
compared (they are measurements of the machine, not of the network).
"""

from __future__ import annotations

import argparse
import random
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import robnas.bench
from robnas.bench.store import ArchResult, BenchmarkFile

SAME_FIELDS = ("seed", "params", "flops", "status")


def _rebuild_command(command: str, out: Path, archs: list[str], workers: int) -> list[str]:
    """The stored ``robnas ... bench build FILE FLAGS`` as a build of exactly ``archs`` into ``out``."""
    words = shlex.split(command)
    flags = words[words.index("build") + 2:]
    kept: list[str] = []
    skip = False
    for word in flags:
        if skip:
            skip = False
        elif word in ("--shard", "--only", "--workers", "--sample"):
            skip = True
        elif word != "--resume":
            kept.append(word)
    return [sys.executable, "-m", "robnas", "bench", "build", str(out), *kept, "--only", ",".join(archs),
            "--workers", str(workers)]


def _results(path: Path) -> dict[str, ArchResult]:
    with BenchmarkFile(path, readonly=True) as bench:
        return {r.arch: r for r in bench.results()}


def _differences(stored: ArchResult, rebuilt: ArchResult) -> list[str]:
    out = [f"{f}: {getattr(stored, f)} vs {getattr(rebuilt, f)}" for f in SAME_FIELDS
           if getattr(stored, f) != getattr(rebuilt, f)]
    for key in sorted(set(stored.measures) | set(rebuilt.measures)):
        a, b = stored.measures.get(key), rebuilt.measures.get(key)
        if a is None or b is None:
            out.append(f"{key}: only in the {'rebuilt' if a is None else 'stored'} benchmark")
        elif not np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True):
            gap = np.nanmax(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)))
            out.append(f"{key}: differs by up to {gap:.3g}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench")
    parser.add_argument("--archs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with robnas.bench.open(args.bench) as bench:
        path, command = bench.path, bench.meta["builds"][-1]["command"]
        archs = random.Random(args.seed).sample(bench.archs(), min(args.archs, len(bench)))
    stored = _results(path)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rebuilt.sqlite"
        cmd = _rebuild_command(command, out, archs, args.workers)
        print("rebuilding:", shlex.join(cmd[1:]), flush=True)
        subprocess.run(cmd, check=True, cwd=tmp, stdout=subprocess.DEVNULL)
        rebuilt = _results(out)
    for arch in archs:
        diffs = _differences(stored[arch], rebuilt[arch]) if arch in rebuilt else ["not rebuilt"]
        failed += bool(diffs)
        measures = len(stored[arch].measures)
        print(f"{arch}: {'all ' + str(measures) + ' measures equal' if not diffs else '; '.join(diffs)}")
    print(f"{len(archs) - failed} of {len(archs)} architectures reproduced bit for bit")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
