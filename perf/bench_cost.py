"""Benchmark-build cost: CPU seconds per architecture, this code against an older commit, same measures.

Builds the same architectures with the shipped benchmark's recipe, protocol and proxies (``digits-tiny``,
``jung-digits``, the proxies of ``digits-nb201.build.json``) in two worker processes, one on this tree and
one on ``--before`` (a git worktree of the older commit, default b1ff98e: the code when the performance
issue started), one torch thread each, architectures alternating between them so that load drift hits
both alike. Each worker times every part of an architecture in CPU seconds (``time.process_time``:
all of the worker's threads): training, each proxy, and the evaluation's parts -- the faster forward's
start-up, the clean pass, the attack grid (all 32 cells in lockstep, as a build runs them: cells share
every model call, so a cell has no separate cost) and the corruptions. Then it prints both sides per
part, the ratio, and whether every measure is identical: accuracies and confusion matrices exactly,
confidences and proxies to the largest difference found.

    git worktree add /tmp/before b1ff98e
    .venv/bin/python perf/bench_cost.py [--before /tmp/before] [--archs 12]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BUILD_RECORD = HERE.parent / "src" / "robnas" / "bench" / "data" / "digits-nb201.build.json"
PARTS = ("train", "proxies", "eval: fast forward start-up", "eval: clean", "eval: attack grid", "eval: corruptions")


# --- the worker (runs inside one tree's robnas) ------------------------------------------------------


def worker() -> None:
    """Read arch strings from stdin, build each, write one JSON line of timings and measures per arch."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    import robnas.evaluation.engine as engine
    try:
        from robnas.bench.builder import ArchBuilder
    except ImportError:  # the code before the benchmark package held the builder (b1ff98e)
        from robnas.pipeline.bench.build import ArchBuilder
    from robnas.train.recipes import get_recipe

    spent: dict[str, float] = {}

    def timed(part: str, fn: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[part] = spent.get(part, 0.0) + time.process_time() - started
        return call

    import robnas.proxies
    import robnas.train

    robnas.train.train_model = timed("train", robnas.train.train_model)
    robnas.proxies.compute = timed("proxies", robnas.proxies.compute)
    engine._inference = timed("eval: fast forward start-up", engine._inference)
    engine.attack_grid = timed("eval: attack grid", engine.attack_grid)
    logits = engine._logits
    engine._logits = timed("eval: clean", logits)  # the clean pass; corruptions call it inside their own timer
    engine.evaluate_corruptions = timed("eval: corruptions", _calling(engine, "_logits", logits,
                                                                       engine.evaluate_corruptions))

    record = json.loads(BUILD_RECORD.read_text())
    recipe = get_recipe(record["recipe"])
    builder = ArchBuilder(space="nb201", data={"name": "digits", "train_size": recipe.train_size,
                                               "test_size": recipe.test_size},
                          recipe=recipe.to_dict(), protocol=record["protocol"], proxies=tuple(record["proxies"]),
                          seed=0)
    for line in sys.stdin:
        arch = line.strip()
        spent.clear()
        started = time.process_time()
        result = builder(arch)
        total = time.process_time() - started
        out = {"arch": arch, "total": total, **spent,
               "measures": {f"{k}|{m}": np.asarray(v).tolist() for (k, m), v in result.measures.items()}}
        print(json.dumps(out), flush=True)


def _calling(module: Any, name: str, inner: Any, fn: Any) -> Any:
    """``fn`` with ``module.name`` set to ``inner`` while it runs (corruption logits are not the clean pass)."""
    def call(*args: Any, **kwargs: Any) -> Any:
        outer = getattr(module, name)
        setattr(module, name, inner)
        try:
            return fn(*args, **kwargs)
        finally:
            setattr(module, name, outer)
    return call


# --- the driver ------------------------------------------------------------------------------------


def sample(count: int) -> list[str]:
    """``count`` architectures spread over the parameter range (the build's own stratified sample)."""
    from robnas.bench.selection import stratified_sample
    from robnas.spaces import get_space
    from robnas.train.recipes import get_recipe

    recipe = get_recipe("digits-tiny")
    return stratified_sample(get_space("nb201"), count, 0, recipe.build, 1, 10)


def start(src: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env, cwd=str(src.parent))


def build_one(proc: subprocess.Popen[str], arch: str) -> dict[str, Any]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(arch + "\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError("a build worker died")
    return json.loads(line)


def compare(old: dict[str, Any], new: dict[str, Any]) -> tuple[bool, float, float]:
    """(accuracies and confusion matrices identical, largest confidence difference, largest proxy difference)."""
    import numpy as np

    exact, conf, proxy = old["measures"].keys() == new["measures"].keys(), 0.0, 0.0
    for key, before in old["measures"].items():
        a, b = np.asarray(before, dtype=float), np.asarray(new["measures"].get(key, before), dtype=float)
        if key.endswith("|accuracy") or key.endswith("|cm"):
            exact &= a.shape == b.shape and bool(np.array_equal(a, b))
        elif key.startswith("proxy:"):
            proxy = max(proxy, float(np.nanmax(np.abs(a - b))) if a.size else 0.0)
        else:
            conf = max(conf, float(np.nanmax(np.abs(a - b))) if a.size else 0.0)
    return exact, conf, proxy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, default=Path("/tmp/before"), help="a worktree of the older commit")
    parser.add_argument("--archs", type=int, default=12)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return
    archs = sample(args.archs)
    sides = {"before": start(args.before / "src"), "after": start(HERE.parent / "src")}
    rows: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    try:
        warm = archs[0]
        for proc in sides.values():  # imports, data loading, the runtimes' first use: not per architecture
            build_one(proc, warm)
        for i, arch in enumerate(archs):
            order = ("before", "after") if i % 2 == 0 else ("after", "before")
            for side in order:
                rows[side].append(build_one(sides[side], arch))
    finally:
        for proc in sides.values():
            proc.kill()
    n = len(archs)
    print(f"{n} architectures (stratified by parameters), recipe digits-tiny, protocol jung-digits, "
          f"proxies of digits-nb201; 1 thread per worker; CPU seconds per architecture (mean)")
    print("| part | before | after | ratio |")
    print("|---|---|---|---|")
    for part in ("total", *PARTS):
        old = sum(r.get(part, 0.0) for r in rows["before"]) / n
        new = sum(r.get(part, 0.0) for r in rows["after"]) / n
        print(f"| {part} | {old:.3f} | {new:.3f} | {new / old if old else float('nan'):.2f} |")
    checks = [compare(a, b) for a, b in zip(rows["before"], rows["after"])]
    exact = all(c[0] for c in checks)
    print(f"accuracies and confusion matrices identical on all {n}: {exact}; largest confidence difference "
          f"{max(c[1] for c in checks):.1e}; largest proxy difference {max(c[2] for c in checks):.1e}")
    ratio = sum(r["total"] for r in rows["after"]) / sum(r["total"] for r in rows["before"])
    print(f"CPU seconds per architecture after / before: {ratio:.2f}x (goal <= 0.6x: {'met' if ratio <= 0.6 else 'NOT met'})")
    for a, b, c in zip(rows["before"], rows["after"], checks):
        if not c[0]:
            differing = [k for k in a["measures"] if k.endswith(("|accuracy", "|cm")) and a["measures"][k] != b["measures"].get(k)]
            print(f"  differs: {a['arch']}: {', '.join(differing)}")


if __name__ == "__main__":
    main()
