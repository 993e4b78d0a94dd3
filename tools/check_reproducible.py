"""Rebuild architectures of a benchmark from scratch and compare every measure with the stored ones.

    python tools/check_reproducible.py BENCH [--archs 5] [--seed 0] [--workers 2] [--isa AVX2|SSE41]

BENCH is a benchmark file or a shipped name. The architectures are drawn at random (seeded); each is
rebuilt in a fresh temporary directory with the benchmark's own last build command, its output file
replaced and ``--shard`` / ``--resume`` replaced by ``--only`` (``robnas bench build ... --only ARCH`` in
a fresh directory gives the same values on the same machine). Prints, per run (architecture and
replicate), whether every stored measure (accuracies, confidences, confusion matrices, per-point
outcomes, proxies), its seed, parameters and FLOPs are bit for bit equal, and the differences where
not, then the mean and largest absolute difference of every accuracy in points; exits 1 if any differs.

``--isa AVX2`` (or ``SSE41``) rebuilds with oneDNN, MKL and PyTorch's own kernels held to that instruction
set (``ONEDNN_MAX_CPU_ISA``, ``MKL_ENABLE_INSTRUCTIONS``, ``ATEN_CPU_CAPABILITY``): a stand-in for another
CPU, whose float kernels round differently; the differences say how far a benchmark's values move on a
user's machine. Timings are not compared (they are measurements of the machine, not of the network).
"""

from __future__ import annotations

import argparse
import json
import os
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


#: Environment that holds the float kernels to one instruction set (oneDNN convolutions, MKL matmuls, ATen).
ISA_ENV = {"AVX2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"},
           "SSE41": {"ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
                     "ATEN_CPU_CAPABILITY": "default"}}


def _results(path: Path) -> dict[tuple[str, int], ArchResult]:
    with BenchmarkFile(path, readonly=True) as bench:
        return {(r.arch, r.replicate): r for r in bench.results()}


def accuracy_gaps(stored: ArchResult, rebuilt: ArchResult) -> np.ndarray:
    """Absolute differences (points) of every accuracy (clean, each attack radius, each corruption severity)."""
    keys = [k for k in stored.measures if k[1] == "accuracy" and k in rebuilt.measures]
    if not keys:
        return np.zeros(0)
    return np.concatenate([100.0 * np.abs(np.ravel(stored.measures[k]) - np.ravel(rebuilt.measures[k]))
                           for k in keys])


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
    parser.add_argument("--isa", choices=sorted(ISA_ENV), help="rebuild with the float kernels held to this ISA")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    with robnas.bench.open(args.bench) as bench:
        path, command = bench.path, bench.meta["builds"][-1]["command"]
        archs = random.Random(args.seed).sample(bench.archs(), min(args.archs, len(bench)))
    stored = _results(path)
    env = {**os.environ, **ISA_ENV.get(args.isa or "", {})}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rebuilt.sqlite"
        cmd = _rebuild_command(command, out, archs, args.workers)
        print("rebuilding:", shlex.join(cmd[1:]), f"(ISA held to {args.isa})" if args.isa else "", flush=True)
        subprocess.run(cmd, check=True, cwd=tmp, stdout=subprocess.DEVNULL, env=env)
        rebuilt = _results(out)
    runs = [k for k in stored if k[0] in archs]
    failed, gaps = 0, []
    for run in sorted(runs):
        diffs = _differences(stored[run], rebuilt[run]) if run in rebuilt else ["not rebuilt"]
        failed += bool(diffs)
        if run in rebuilt:
            gaps.append(accuracy_gaps(stored[run], rebuilt[run]))
        measures = len(stored[run].measures)
        print(f"{run[0]} (replicate {run[1]}): "
              f"{'all ' + str(measures) + ' measures equal' if not diffs else '; '.join(diffs[:4])}")
    every = np.concatenate(gaps) if gaps else np.zeros(0)
    clean = [100.0 * abs(float(stored[r].measures[("clean", "accuracy")]) - float(rebuilt[r].measures[("clean", "accuracy")]))
             for r in runs if r in rebuilt and ("clean", "accuracy") in stored[r].measures]
    summary = {"isa": args.isa, "runs": len(runs), "identical": len(runs) - failed,
               "mean_abs_diff_points": float(every.mean()) if every.size else 0.0,
               "max_abs_diff_points": float(every.max()) if every.size else 0.0,
               "clean_mean_abs_diff_points": float(np.mean(clean)) if clean else 0.0,
               "clean_max_abs_diff_points": float(np.max(clean)) if clean else 0.0}
    print(f"{summary['identical']} of {len(runs)} runs reproduced bit for bit; over every accuracy: mean |difference| "
          f"{summary['mean_abs_diff_points']:.3f} points, max {summary['max_abs_diff_points']:.2f} (clean: mean "
          f"{summary['clean_mean_abs_diff_points']:.3f}, max {summary['clean_max_abs_diff_points']:.2f})")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
