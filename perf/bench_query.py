"""Loading a whole robustness benchmark: robnas' benchmark file against the published JSON files.

Writes the full CIFAR-10 accuracies of Jung et al.'s robustness dataset in its published layout (all
6466 representative NAS-Bench-201 cells; clean, FGSM x 11, PGD / APGD-CE / Square x 7, 15 corruptions
x 5; accuracies as fractions -- the values are random, the shapes and types are the dataset's),
imports them with ``robnas bench import``, then, each in a fresh process (so peak memory is the
process's own):

* robnas: ``robnas.bench.open(file)`` and ``query(key, "accuracy")`` for every key;
* json:   ``json.load`` of ``meta.json`` and every ``<key>_accuracy.json`` (what the authors' helper does).

Prints wall time and peak resident memory of each, and their ratio. Goal: robnas under 1 s and 300 MB.

    python perf/bench_query.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KEYS = {"clean": None, "fgsm@Linf": 11, "pgd@Linf": 7, "aa_apgd-ce@Linf": 7, "aa_square@Linf": 7}
CORRUPTIONS = ("brightness", "contrast", "defocus_blur", "elastic_transform", "fog", "frost", "gaussian_noise",
               "glass_blur", "impulse_noise", "jpeg_compression", "motion_blur", "pixelate", "shot_noise", "snow",
               "zoom_blur")
FGSM = [0.1, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 255]
OTHER = [0.1, 0.5, 1, 2, 3, 4, 8]

ROBNAS = """
import sys, time
start = time.perf_counter()
import robnas.bench as bench
b = bench.open(sys.argv[1])
total = sum(float(b.query(k, "accuracy").sum()) for k in b.result_keys())
print(time.perf_counter() - start, peak_mb(), total)
"""
JSON = """
import json, sys, time
from pathlib import Path
start = time.perf_counter()
root = Path(sys.argv[1])
meta = json.loads((root / "meta.json").read_text())
total = 0.0
for path in sorted((root / "cifar10").glob("*_accuracy.json")):
    key = path.stem[: -len("_accuracy")]
    column = json.loads(path.read_text())["cifar10"][key]["accuracy"]
    total += sum(sum(v) if isinstance(v, list) else v for v in column.values())
print(time.perf_counter() - start, peak_mb(), total)
"""
# Peak resident memory of this process since its exec (ru_maxrss would carry the parent's over exec).
PEAK = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""


def write_published(root: Path) -> None:
    from robnas.spaces.nb201 import arch_str
    from robnas.spaces.nb201.index import representatives

    reps = representatives()
    rng = random.Random(0)
    ids = {str(i): {"nb201-string": arch_str(i), "isomorph": str(reps[i])} for i in range(len(reps))}
    (root / "cifar10").mkdir(parents=True)
    (root / "meta.json").write_text(json.dumps({"ids": ids, "epsilons": {
        "fgsm@Linf": FGSM, "pgd@Linf": OTHER, "aa_apgd-ce@Linf": OTHER, "aa_square@Linf": OTHER}}))
    unique = sorted(set(reps))
    for key, n in {**KEYS, **{c: 5 for c in CORRUPTIONS}}.items():
        column = {str(i): (round(rng.random(), 4) if n is None else [round(rng.random(), 4) for _ in range(n)])
                  for i in unique}
        (root / "cifar10" / f"{key}_accuracy.json").write_text(json.dumps({"cifar10": {key: {"accuracy": column}}}))


def measure(script: str, target: Path) -> tuple[float, float, float]:
    out = subprocess.run([sys.executable, "-c", PEAK + script, str(target)], capture_output=True, text=True, check=True)
    seconds, megabytes, total = map(float, out.stdout.split())
    return seconds, megabytes, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from robnas.bench.layout import import_layout

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "published"
        write_published(root)
        size = sum(p.stat().st_size for p in root.rglob("*.json"))
        started = time.perf_counter()
        path = import_layout(root, Path(tmp) / "cifar10.sqlite")
        imported = time.perf_counter() - started
        runs = {"robnas": [], "json": []}
        for _ in range(args.runs):  # alternating, so load changes hit both alike
            runs["robnas"].append(measure(ROBNAS, path))
            runs["json"].append(measure(JSON, root))
        assert abs(runs["robnas"][0][2] - runs["json"][0][2]) < 1e-6 * runs["json"][0][2], "different values read"
        print(f"published layout: {size / 1e6:.1f} MB of JSON; benchmark file {path.stat().st_size / 1e6:.1f} MB "
              f"(import {imported:.1f} s)")
        print("| reader | load + every key's accuracy, s (median) | peak RSS, MB | goal |")
        print("|---|---:|---:|---|")
        med = {name: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs))
               for name, rs in runs.items()}
        print(f"| robnas.bench.open + query | {med['robnas'][0]:.3f} | {med['robnas'][1]:.0f} | < 1 s and < 300 MB: "
              f"{'met' if med['robnas'][0] < 1 and med['robnas'][1] < 300 else 'NOT met'} |")
        print(f"| json.load of the published files | {med['json'][0]:.3f} | {med['json'][1]:.0f} | peer |")
        print(f"ratio robnas / json: time {med['robnas'][0] / med['json'][0]:.2f}, "
              f"memory {med['robnas'][1] / med['json'][1]:.2f}")


if __name__ == "__main__":
    main()
