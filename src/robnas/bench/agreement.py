"""Rank agreement between two benchmarks on the architectures they share: does one rank like the other?

``bench correlate A --against B``: rows are A's measures (clean accuracy, every attack at the
reference radius, the corruption mean), columns B's (clean accuracy and its attacks); a cell is
Kendall's tau-b over the architectures both benchmarks hold (matched by canonical key), with an
interval that resamples those architectures and, where a benchmark has replicates or per-point
outcomes, redraws its seeds and test points (each benchmark's noise is its own). Each side's noise
ceiling (tau between two of its replicates) bounds what any agreement can reach: a transfer tau is
read against the two ceilings, never on its own. A typical use: a small benchmark against the
published NAS-Bench-201 CIFAR-10 accuracies (``robnas bench reference``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robnas.bench import measurements as m
from robnas.bench.benchmark import Benchmark
from robnas.bench.correlate import Cell, RowTask, correlate_row
from robnas.bench.noise import Ceiling, noise_ceiling, noise_draws, source
from robnas.errors import DataError


def shared(a: Benchmark, b: Benchmark) -> tuple[np.ndarray, np.ndarray]:
    """Positions (in each benchmark) of the architectures both hold, in A's order; mismatches refused."""
    if a.space != b.space:
        raise DataError(f"benchmarks {a.name} ({a.space}) and {b.name} ({b.space}) are over different spaces; "
                        "their architectures cannot be matched")
    where = {k: i for i, k in enumerate(b.keys())}
    pairs = [(i, where[k]) for i, k in enumerate(a.keys()) if k in where]
    if len(pairs) < 2:
        raise DataError(f"benchmarks {a.name} and {b.name} share {len(pairs)} architectures; a rank agreement needs "
                        "at least 2 (are they over the same cells?)")
    ia, ib = (np.array(x, dtype=np.int64) for x in zip(*pairs))
    return ia, ib


def side(bench: Benchmark, radius: str | None, with_corruptions: bool) -> list[m.Measurement]:
    """Clean accuracy, every attack at ``radius`` (nearest on its axis), and the corruption mean."""
    out = [m.clean(bench), *m.at_radius(bench, radius)]
    if with_corruptions:
        out += [c for c in m.corruptions(bench) if c.kind == "summary"]
    return out


def _restricted(measure: m.Measurement, keep: np.ndarray) -> m.Measurement:
    return m.Measurement(measure.label, measure.kind, measure.values[keep], measure.key, measure.eps, measure.group)


@dataclass
class Agreement:
    a: str
    b: str
    rows: list[m.Measurement]                  # A's measures on the shared architectures
    columns: list[m.Measurement]               # B's
    shared: int
    cells: list[list[Cell]] = field(default_factory=list)
    ceilings_a: list[Ceiling | None] = field(default_factory=list)
    ceilings_b: list[Ceiling | None] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _noise(bench: Benchmark, measures: list[m.Measurement], keep: np.ndarray, draws: int, seed: int
           ) -> np.ndarray | None:
    if draws == 0 or (len(bench.replicates) < 2 and bench.test_points is None):
        return None
    return noise_draws([source(bench, x).restricted(keep) for x in measures], draws, seed, bench.test_points)


def _ceilings(bench: Benchmark, measures: list[m.Measurement], keep: np.ndarray, resamples: int,
              confidence: float, seed: int) -> list[Ceiling | None]:
    if len(bench.replicates) < 2:
        return [None] * len(measures)
    return [noise_ceiling(source(bench, x).restricted(keep), resamples, confidence, seed) for x in measures]


def agreement(a: Benchmark, b: Benchmark, radius_a: str | None, radius_b: str | None, resamples: int, draws: int,
              confidence: float, seed: int) -> Agreement:
    """tau of every A measure against every B measure over the shared architectures (see the module)."""
    ia, ib = shared(a, b)
    rows = side(a, radius_a, bool(a.result_keys("corruption")))
    columns = side(b, radius_b, bool(b.result_keys("corruption")))
    out = Agreement(a.name, b.name, [_restricted(r, ia) for r in rows], [_restricted(c, ib) for c in columns],
                    len(ia))
    noise_a, noise_b = _noise(a, rows, ia, draws, seed), _noise(b, columns, ib, draws, seed + 1)
    if noise_a is None and noise_b is None:
        out.notes.append("Neither benchmark has replicates or per-point outcomes: the intervals resample "
                         "architectures only.")
    targets = np.stack([c.values for c in out.columns], axis=1)
    for i, row in enumerate(out.rows):
        x_noise = noise_a[i] if noise_a is not None else None
        y_noise = noise_b if noise_b is not None else None
        if x_noise is None and y_noise is not None:
            x_noise = np.broadcast_to(row.values.astype(np.float32), y_noise.shape[1:])
        if y_noise is None and x_noise is not None:
            y_noise = np.broadcast_to(targets.T[:, None, :].astype(np.float32), (len(out.columns), *x_noise.shape))
        out.cells.append(correlate_row(RowTask(row.label, row.values, targets, resamples, seed, confidence,
                                               x_noise, y_noise)))
    out.ceilings_a = _ceilings(a, rows, ia, resamples, confidence, seed)
    out.ceilings_b = _ceilings(b, columns, ib, resamples, confidence, seed)
    return out


def _fmt(tau: float, low: float, high: float) -> str:
    if not math.isfinite(tau):
        return "n/a"
    return f"{tau:+.2f} [{low:+.2f}, {high:+.2f}]" if math.isfinite(low) else f"{tau:+.2f}"


def markdown(ag: Agreement, confidence: float) -> str:
    """The agreement table with both sides' noise ceilings."""
    head = [f"{ag.a} \\ {ag.b}", *(c.label for c in ag.columns), f"noise ceiling ({ag.a})"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row, cells, ceiling in zip(ag.rows, ag.cells, ag.ceilings_a):
        lines.append("| " + " | ".join([row.label, *(_fmt(c.tau, c.low, c.high) for c in cells),
                                         "n/a" if ceiling is None else _fmt(ceiling.tau, ceiling.low, ceiling.high)])
                     + " |")
    lines.append("| " + " | ".join([f"*noise ceiling ({ag.b})*",
                                     *("n/a" if c is None else _fmt(c.tau, c.low, c.high) for c in ag.ceilings_b),
                                     ""]) + " |")
    intro = (f"Kendall's tau-b between {ag.a} (rows) and {ag.b} (columns) over the {ag.shared} architectures both "
             f"hold; {confidence:.0%} intervals resample the architectures and redraw each benchmark's seeds and test "
             "points where it stores them. A noise ceiling is tau between two replicates of the same measure on one "
             "benchmark: an agreement cannot be read as better than the lower of the two ceilings allows.")
    return "\n".join([intro, "", *lines, "", *ag.notes]) + "\n"


def to_json(ag: Agreement) -> dict[str, Any]:
    def number(v: float) -> float | None:
        return None if not math.isfinite(v) else round(float(v), 6)

    def ceiling(c: Ceiling | None) -> dict[str, Any] | None:
        return None if c is None else {"tau": number(c.tau), "low": number(c.low), "high": number(c.high),
                                       "replicate_sd": number(c.replicate_sd), "pairs": c.pairs}

    return {"a": ag.a, "b": ag.b, "shared": ag.shared, "rows": [r.label for r in ag.rows],
            "columns": [c.label for c in ag.columns],
            "cells": [[{"tau": number(c.tau), "low": number(c.low), "high": number(c.high), "n": c.n,
                        "noise_sd": number(c.noise_sd)} for c in row] for row in ag.cells],
            "noise_ceiling_a": [ceiling(c) for c in ag.ceilings_a],
            "noise_ceiling_b": [ceiling(c) for c in ag.ceilings_b], "notes": ag.notes}
