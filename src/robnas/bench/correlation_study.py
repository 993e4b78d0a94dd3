"""The rank-correlation study of a benchmark (``robnas bench correlate``): Kendall's tau of clean accuracy and
every proxy against every attack x radius and corruption, with intervals that hold the noise and the noise
ceiling; heatmaps in Jung et al.'s Fig. 3 / 4 layout; and the rank agreement of two benchmarks (``--against``).

Writes ``correlation.json`` (every cell of every group: tau, interval, pairs used, the noise, and the
architectures each measurement lacks), ``correlation.csv`` (one line per cell),
``correlation_attacks[_top].png`` and ``correlation_corruptions[_top].png``. Rows (predictors) fan out
over the backend.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robnas.bench import agreement
from robnas.bench import correlate as lib
from robnas.bench.benchmark import Benchmark
from robnas.bench.settings import CorrelateConfig
from robnas.bench.study_report import Section, reference_radius
from robnas.errors import InvalidValueError
from robnas.store.atomic import write_json_atomic, write_text_atomic


@dataclass
class CorrelationPlan:
    groups: list[lib.Group]
    resamples: int
    confidence: float
    seed: int
    eps: str | None              # the radius of the summary table's attack columns


def plan(c: CorrelateConfig, bench: Benchmark, seed: int = 0, eps: str | None = None) -> CorrelationPlan:
    """Everything checked (settings, proxies, measurements, the top-k group) before anything is written."""
    lib.check_resamples(c.bootstrap, c.confidence)
    groups = lib.groups(bench, c.proxies, c.top_percent)
    if c.noise_draws < 0:
        raise InvalidValueError(f"bench.correlate.noise_draws must be >= 0 (0 = none), got {c.noise_draws}")
    lib.attach_noise(bench, groups, c.noise_draws, c.bootstrap, c.confidence, seed)
    return CorrelationPlan(groups, c.bootstrap, c.confidence, seed, eps if eps is not None else reference_radius(bench))


def compute(p: CorrelationPlan, backend: Any, log: Callable[[str], None]) -> None:
    """Fill every group's cells, one task per predictor row."""
    for index, group in enumerate(p.groups):
        tasks = group.tasks(p.resamples, lib.group_seed(p.seed, index), p.confidence)
        group.cells = [[] for _ in tasks]
        for row, cells in backend.imap_unordered(lib.correlate_row, tasks):
            group.cells[row] = cells
        log(f"correlation ({group.name}): {len(group.rows)} predictors x {len(group.columns)} targets over "
            f"{len(group.archs)} architectures")


def _csv(p: CorrelationPlan) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["group", "predictor", "target", "tau", "low", "high", "n"])
    for group in p.groups:
        for row, cells in zip(group.rows, group.cells):
            for column, cell in zip(group.columns, cells):
                writer.writerow([group.name, row.label, column.label,
                                 *("" if not math.isfinite(v) else f"{v:.6f}" for v in (cell.tau, cell.low, cell.high)),
                                 cell.n])
    return out.getvalue()


def write(p: CorrelationPlan, bench: Benchmark, results: Path, backend: Any, log: Callable[[str], None]) -> Section:
    """Compute, write the files, and return the report section."""
    compute(p, backend, log)
    files = []
    write_json_atomic(results / "correlation.json", {"benchmark": bench.name, "orientation": lib.ORIENTATION_NOTE,
                                                     "seed": p.seed,
                                                     "groups": [lib.to_json(g, p.resamples, p.confidence)
                                                                for g in p.groups]})
    write_text_atomic(results / "correlation.csv", _csv(p))
    files += [results / "correlation.json", results / "correlation.csv"]
    text = [lib.ORIENTATION_NOTE, ""]
    for index, group in enumerate(p.groups):
        suffix = "" if index == 0 else "_top"
        text += [f"### {group.name.capitalize()} architectures", "", lib.markdown(group, p.eps, p.confidence, p.resamples)]
        for kinds, stem, what in ((("attack",), "correlation_attacks", "attack x radius"),
                                  (("corruption", "summary", "clean"), "correlation_corruptions",
                                   "clean accuracy and corruptions")):
            path = lib.heatmap(group, kinds, results / f"{stem}{suffix}.png",
                               f"Kendall tau-b vs {what} ({group.name}, {len(group.archs)} architectures)")
            if path is not None:
                files.append(path)
                text += [f"![tau vs {what}, {group.name}]({path.name})", ""]
    return Section(f"Rank correlation of proxies and clean accuracy with robustness ({bench.name})",
                   "\n".join(text), files)


def check_agreement_settings(c: CorrelateConfig) -> None:
    lib.check_resamples(c.bootstrap, c.confidence)
    if c.noise_draws < 0:
        raise InvalidValueError(f"bench.correlate.noise_draws must be >= 0 (0 = none), got {c.noise_draws}")


def write_agreement(c: CorrelateConfig, bench: Benchmark, against: Benchmark, seed: int, results: Path) -> Section:
    """``--against B``: the rank agreement of ``bench`` with ``against`` on their shared architectures (mismatched
    benchmarks fail before anything is written); writes agreement.json and agreement.md."""
    result = agreement.agreement(bench, against, reference_radius(bench), reference_radius(against), c.bootstrap,
                                 c.noise_draws, c.confidence, seed)
    results.mkdir(parents=True, exist_ok=True)
    write_json_atomic(results / "agreement.json", agreement.to_json(result))
    text = agreement.markdown(result, c.confidence)
    write_text_atomic(results / "agreement.md", text)
    return Section(f"{bench.name} against {against.name}", text, [results / "agreement.json", results / "agreement.md"])
