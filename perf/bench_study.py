"""Wall and CPU time of `robnas bench study` with its default settings on a whole-space benchmark.

By default the benchmark is the shipped `digits-nb201` (all 6466 NAS-Bench-201 classes, the
jung-digits grid: FGSM x 11, PGD / APGD-CE / Square x 7, the 15 corruptions x 5 severities and 9
proxies at initialisation and trained). `--bench FILE` names another; a FILE that does not exist is
first written as a synthetic benchmark of the same shape (tests/bench/synthetic.py, a structured
landscape), for trees without the shipped file. The study runs in this
process (its pool workers are children), so the CPU time below is the study's whole cost: on an idle
2-core machine the wall time is about CPU time / 2 plus start-up. Target: under 10 minutes.

    .venv/bin/python perf/bench_study.py [--bench /tmp/synthetic-6466.sqlite] [--out /tmp/bench-study]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tests.bench.synthetic


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", default="digits-nb201", help="a shipped name, a benchmark file, or a path "
                        "where a synthetic whole-space benchmark is written first")
    parser.add_argument("--out", default="/tmp/bench-study")
    parser.add_argument("extra", nargs="*", help="more robnas bench study arguments, e.g. --set bench.nas.runs=10")
    args = parser.parse_args()

    from robnas.cli import main as robnas

    from tests.bench.synthetic import write_benchmark

    from robnas.bench.shipped import shipped_names

    bench = Path(args.bench)
    if args.bench not in shipped_names() and not bench.exists():
        started = time.perf_counter()
        write_benchmark(bench)
        print(f"wrote {bench} ({bench.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f}s")
    wall, cpu = time.perf_counter(), _cpu()
    code = robnas(["bench", "study", str(bench), "--out", args.out, "--quiet", *args.extra])
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    load = os.getloadavg()
    print(f"robnas bench study: exit {code}, wall {wall:.0f}s ({wall / 60:.1f} min), CPU {cpu:.0f}s "
          f"(user + system, this process and its workers); load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
