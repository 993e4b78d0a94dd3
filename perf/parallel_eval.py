"""Evaluations per minute of the execution backends: local pool with 1 and 2 workers, Ray on 2 CPUs.

A batch of small NAS-Bench-201 candidates (width 4, one cell per stage) is trained for one epoch on
a digits subset and measured (clean error, FLOPs). Each backend is first warmed up (its workers
import torch and load the data once, which a long search amortises), then the batch is timed;
the cold time including start-up is printed as well. Every backend must return the same numbers.

    .venv/bin/python perf/parallel_eval.py [--candidates 10] [--train-size 600]

Targets: 2 local workers >= 1.6x one worker; Ray within 15% of the local pool (same CPUs).
"""

from __future__ import annotations

import argparse
import random
import time

from robnas.backends import Backend, create_backend
from robnas.search.discrete.training_evaluator import TrainingEvaluator
from robnas.search.discrete.evaluators import run_evaluation
from robnas.spaces import get_space


def _timed(backend: Backend, evaluator: TrainingEvaluator, archs: list[str]) -> tuple[float, list[dict[str, float]]]:
    started = time.perf_counter()
    out = dict(backend.imap_unordered(run_evaluation, [(evaluator, a) for a in archs]))
    return time.perf_counter() - started, [out[i].metrics for i in range(len(archs))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=10)
    parser.add_argument("--train-size", type=int, default=600)
    args = parser.parse_args()

    space = get_space("nb201")
    rng = random.Random(0)
    archs = list(dict((space.key(a), a) for a in (space.sample(rng) for _ in range(4 * args.candidates))).values())
    batch, warmup = archs[:args.candidates], archs[args.candidates:args.candidates + 4]
    evaluator = TrainingEvaluator("nb201", ("clean_error", "flops"),
                                  data={"name": "digits", "train_size": args.train_size, "test_size": 200},
                                  train={"epochs": 1, "batch_size": 64, "lr": 0.1}, build_kwargs={"C": 4, "N": 1})
    rows, reference = [], None
    for label, name, workers in [("local, 1 worker", "local", 1), ("local, 2 workers", "local", 2),
                                 ("ray, 2 CPUs", "ray", 2)]:
        started = time.perf_counter()
        backend = create_backend(name, workers=workers)
        try:
            _timed(backend, evaluator, warmup[:2 * workers])  # every worker imports torch and loads the data
            cold = time.perf_counter() - started
            seconds, metrics = _timed(backend, evaluator, batch)
        finally:
            backend.close()
        reference = reference or metrics
        rows.append((label, seconds, 60 * len(batch) / seconds, cold, metrics == reference))
        print(f"{label:18s} {seconds:6.1f}s for {len(batch)} evaluations = {rows[-1][2]:5.1f}/min "
              f"(start-up + warm-up {cold:.1f}s; same numbers as the first: {metrics == reference})", flush=True)
    one, two, ray = (r[2] for r in rows)
    print(f"\n2 workers / 1 worker: {two / one:.2f}x (target >= 1.6x: {'met' if two / one >= 1.6 else 'NOT met'})")
    print(f"ray / local pool:     {ray / two:.2f}x (target >= 0.85x: {'met' if ray / two >= 0.85 else 'NOT met'})")


if __name__ == "__main__":
    main()
