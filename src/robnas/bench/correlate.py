"""The rank-correlation study (Jung et al. Fig. 3 and 4): how well clean accuracy and training-free
proxies rank architectures by robustness, with bootstrap intervals.

Rows are *predictors* -- clean accuracy and every proxy, oriented (:mod:`robnas.bench.measurements`)
so that **a positive tau means the predictor ranks architectures the right way** (a larger oriented
value goes with a higher accuracy). Columns are *targets* -- clean accuracy, every attack key x
radius, every corruption (mean over severities) and the corruption mean. A cell is Kendall's tau-b
(``scipy.stats.kendalltau``) over the architectures where both values are finite, and the central
``confidence`` interval of tau over ``bootstrap`` resamples of the architectures (the same seeded
resamples for every cell of a group, so intervals are comparable), widened by the noise of seeds and
test points when the benchmark stores replicates or per-point outcomes (:mod:`robnas.bench.noise`:
``noise_draws`` re-measurements of every row and column with shared redraws of the replicates and the
test points; the SD of tau over them is added in quadrature). With two replicates or more, each
target also gets its **noise ceiling**: tau between two replicates of the target itself, the best
rank agreement a second training of the same cells reaches. The study is done on all architectures
and on the top k% by clean accuracy, where rankings decide a search.

Undefined values are never dropped silently: every row and column reports how many architectures
it lacks and which (:attr:`Group.missing`), and a cell's ``n`` says how many pairs it used.

:func:`correlate_row` is a plain picklable function of plain data, so a job can fan the rows out
over an execution backend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robnas.bench import measurements as m
from robnas.bench.benchmark import Benchmark
from robnas.bench.kendall import bootstrap_taus, interval, kendall_tau, resample_counts
from robnas.bench.noise import Ceiling, combined_interval, noise_ceiling, noise_draws, noise_sd, source
from robnas.eps import Eps
from robnas.errors import InvalidValueError
from robnas.store.figures import pyplot, save_figure

ORIENTATION_NOTE = ("Proxies are oriented by their registered direction so that a positive tau means the proxy "
                    "ranks architectures the right way: proxies whose larger value predicts a less robust network "
                    "(jacobian, hessian, hessian-weights, curvature) are negated; those predicting a more accurate "
                    "one (synflow, jacob_cov, grad_norm) are kept; network-size counters (params, flops) are kept, "
                    "so for them a positive tau means that larger networks are the more robust.")


@dataclass(frozen=True)
class RowTask:
    """One predictor against every target of a group (what a worker computes)."""

    label: str
    values: np.ndarray           # (n,)
    targets: np.ndarray          # (n, columns)
    resamples: int
    seed: int
    confidence: float
    noise_values: np.ndarray | None = None    # (draws, n): the predictor re-measured (seeds, test points)
    noise_targets: np.ndarray | None = None   # (columns, draws, n): the targets under the same redraws


@dataclass(frozen=True)
class Cell:
    tau: float
    low: float                   # the interval: architectures resampled, widened by the noise when known
    high: float
    n: int                       # architectures with both values finite
    noise_sd: float = float("nan")   # SD of tau over redraws of the seeds and test points (NaN: not measured)
    arch_low: float = float("nan")   # the interval over architectures alone
    arch_high: float = float("nan")


def correlate_row(task: RowTask) -> list[Cell]:
    """tau-b and its interval of ``task.values`` against each target column."""
    n = len(task.values)
    counts = resample_counts(n, task.resamples, task.seed) if task.resamples else None
    cells = []
    for j in range(task.targets.shape[1]):
        y = task.targets[:, j]
        used = int((np.isfinite(task.values) & np.isfinite(y)).sum())
        tau = kendall_tau(task.values, y)
        low = high = float("nan")
        if counts is not None and used >= 2:
            low, high = interval(bootstrap_taus(task.values, y, counts), task.confidence)
        spread = float("nan")
        if task.noise_values is not None and task.noise_targets is not None:
            spread = noise_sd(task.noise_values, task.noise_targets[j])
        wide = combined_interval(tau, low, high, spread, task.confidence)
        cells.append(Cell(tau, wide[0], wide[1], used, spread, low, high))
    return cells


@dataclass
class Group:
    """The study on one set of architectures (all, or the top k% by clean accuracy)."""

    name: str                                # "all" or "top 10%"
    archs: list[str]                         # the architectures of the group
    rows: list[m.Measurement]                # predictors
    columns: list[m.Measurement]             # targets
    cells: list[list[Cell]] = field(default_factory=list)   # [row][column]
    missing: dict[str, list[str]] = field(default_factory=dict)  # label -> archs without a finite value
    noise: np.ndarray | None = None          # (rows + columns, draws, archs): re-measurements (noise.noise_draws)
    ceilings: list[Ceiling | None] = field(default_factory=list)  # per column: tau between replicates
    noise_note: str = ""                     # what the intervals hold

    def tasks(self, resamples: int, seed: int, confidence: float) -> list[RowTask]:
        targets = np.stack([c.values for c in self.columns], axis=1)
        rows = len(self.rows)
        return [RowTask(r.label, r.values, targets, resamples, seed, confidence,
                        None if self.noise is None else self.noise[i],
                        None if self.noise is None else self.noise[rows:])
                for i, r in enumerate(self.rows)]

    def matrix(self, what: str = "tau") -> np.ndarray:
        return np.array([[getattr(c, what) for c in row] for row in self.cells], dtype=np.float64)

    def cell(self, row: str, column: str) -> Cell:
        i = next(k for k, r in enumerate(self.rows) if r.label == row)
        j = next(k for k, c in enumerate(self.columns) if c.label == column)
        return self.cells[i][j]


def targets(bench: Benchmark) -> list[m.Measurement]:
    """Clean accuracy, every attack x radius, every corruption and the corruption mean."""
    return [m.clean(bench), *m.attacks(bench), *m.corruptions(bench)]


def predictors(bench: Benchmark, proxies: Sequence[str] = ()) -> list[m.Measurement]:
    """Clean accuracy and the (oriented) proxies."""
    return [m.clean(bench), *m.proxies(bench, proxies)]


def _restricted(measure: m.Measurement, keep: np.ndarray) -> m.Measurement:
    return m.Measurement(measure.label, measure.kind, measure.values[keep], measure.key, measure.eps, measure.group)


def groups(bench: Benchmark, proxies: Sequence[str] = (), top_percent: float = 10.0) -> list[Group]:
    """The study's groups: every architecture, then (``top_percent`` > 0) the top k% by clean accuracy."""
    if not 0 <= top_percent <= 100 or math.isnan(top_percent):
        raise InvalidValueError(f"bench.correlate.top_percent must be in [0, 100] (0 = no top-k group), got {top_percent}")
    rows, columns = predictors(bench, proxies), targets(bench)
    archs = bench.archs()
    out = [Group("all", archs, rows, columns)]
    if top_percent > 0:
        clean = m.clean(bench).values
        measured = np.flatnonzero(np.isfinite(clean))
        size = int(math.ceil(top_percent / 100.0 * len(measured)))
        if size < 2:
            raise InvalidValueError(f"the top {top_percent:g}% of the {len(measured)} architectures with a clean "
                                    f"accuracy holds {size}; a rank correlation needs at least 2: raise "
                                    "bench.correlate.top_percent")
        keep = measured[np.argsort(-clean[measured], kind="stable")[:size]]
        keep.sort()
        out.append(Group(f"top {top_percent:g}%", [archs[i] for i in keep], [_restricted(r, keep) for r in rows],
                         [_restricted(c, keep) for c in columns]))
    for group in out:
        for measure in (*group.rows, *group.columns):
            bad = np.flatnonzero(~np.isfinite(measure.values))
            if bad.size:
                group.missing[measure.label] = [group.archs[i] for i in bad]
    return out


def attach_noise(bench: Benchmark, groups_: list[Group], draws: int, resamples: int, confidence: float,
                 seed: int) -> None:
    """Give every group its noise: ``draws`` re-measurements of every row and column (seeds and test points
    redrawn, :func:`robnas.bench.noise.noise_draws`) and each column's noise ceiling (two replicates or more).
    A benchmark with one replicate and no per-point outcomes has no noise to measure: its groups say so."""
    replicated = len(bench.replicates) >= 2
    points = bench.test_points
    if not replicated and points is None:
        for group in groups_:
            group.noise_note = ("This benchmark was trained once per architecture and keeps no per-point outcomes: "
                                "the intervals resample architectures only and hold none of the seed and test-point "
                                "noise; no noise ceiling can be given.")
        return
    whole = groups_[0]
    sources = [source(bench, meas) for meas in (*whole.rows, *whole.columns)]
    positions = {a: i for i, a in enumerate(whole.archs)}
    for index, group in enumerate(groups_):
        keep = np.array([positions[a] for a in group.archs])
        mine = [s.restricted(keep) for s in sources]
        if draws:
            group.noise = noise_draws(mine, draws, group_seed(seed, index), points)
        columns = mine[len(group.rows):]
        group.ceilings = [noise_ceiling(c, resamples, confidence, group_seed(seed, index)) if replicated else None
                          for c in columns]
        what = " and ".join(w for w, ok in (("seeds", replicated), ("test points", points is not None)) if ok)
        group.noise_note = (f"Intervals: {confidence:.0%}, architectures resampled ({resamples} resamples) and "
                            f"widened by the SD of tau over {draws} redraws of the {what} (in quadrature)."
                            + (" The noise-ceiling row is tau between two replicates of the target itself: two "
                               "trainings of the same cells agree this much." if replicated else ""))


def check_resamples(resamples: int, confidence: float) -> None:
    if resamples < 0:
        raise InvalidValueError(f"bench.correlate.bootstrap must be >= 0 resamples (0 = no intervals), got {resamples}")
    if not 0 < confidence < 1:
        raise InvalidValueError(f"bench.correlate.confidence must be in (0, 1), got {confidence}")


def group_seed(seed: int, index: int) -> int:
    """Each group draws its own resamples (a group's size differs)."""
    return int(np.random.SeedSequence([int(seed), 7919, int(index)]).generate_state(1)[0])


def to_json(group: Group, resamples: int, confidence: float) -> dict[str, Any]:
    def number(v: float) -> float | None:
        return None if not math.isfinite(v) else round(float(v), 6)

    return {
        "group": group.name, "architectures": len(group.archs), "bootstrap": resamples, "confidence": confidence,
        "rows": [{"label": r.label, "kind": r.kind, "key": r.key, "orientation": r.group} for r in group.rows],
        "columns": [{"label": c.label, "kind": c.kind, "key": c.key, "eps": c.eps} for c in group.columns],
        "tau": [[number(c.tau) for c in row] for row in group.cells],
        "low": [[number(c.low) for c in row] for row in group.cells],
        "high": [[number(c.high) for c in row] for row in group.cells],
        "n": [[c.n for c in row] for row in group.cells],
        "noise_sd": [[number(c.noise_sd) for c in row] for row in group.cells],
        "arch_low": [[number(c.arch_low) for c in row] for row in group.cells],
        "arch_high": [[number(c.arch_high) for c in row] for row in group.cells],
        "noise_ceiling": [None if c is None else {"tau": number(c.tau), "low": number(c.low), "high": number(c.high),
                                                  "replicate_sd": number(c.replicate_sd),
                                                  "spread_sd": number(c.spread_sd), "pairs": c.pairs}
                          for c in group.ceilings],
        "noise": group.noise_note,
        "missing": {label: {"count": len(archs), "archs": archs} for label, archs in group.missing.items()},
    }


# --- report -------------------------------------------------------------------------------------


def _fmt(cell: Cell) -> str:
    if not math.isfinite(cell.tau):
        return "n/a"
    if math.isfinite(cell.low):
        return f"{cell.tau:+.2f} [{cell.low:+.2f}, {cell.high:+.2f}]"
    return f"{cell.tau:+.2f}"


def summary_columns(group: Group, eps: str | None) -> list[int]:
    """Columns of the Markdown summary: clean, each attack at ``eps`` (or its nearest radius), the corruption mean."""
    out = [0]
    seen: set[str] = set()
    for c in group.columns:
        if c.kind == "attack" and c.key not in seen:
            candidates = [k for k, d in enumerate(group.columns) if d.key == c.key]
            if eps is None:
                pick = candidates[len(candidates) // 2]
            else:
                wanted = Eps.parse(eps).value
                pick = min(candidates, key=lambda k: abs(Eps.parse(group.columns[k].eps or "0").value - wanted))
            out.append(pick)
            seen.add(c.key)
    out += [j for j, c in enumerate(group.columns) if c.label == "corruption mean"]
    return out


def markdown(group: Group, eps: str | None, confidence: float, resamples: int) -> str:
    """The group's summary table (tau [interval]) and its report of undefined values."""
    cols = summary_columns(group, eps)
    head = ["predictor", *(group.columns[j].label for j in cols), "mean over attack x radius"]
    attack_cols = [j for j, c in enumerate(group.columns) if c.kind == "attack"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, row in enumerate(group.rows):
        taus = [group.cells[i][j].tau for j in attack_cols]
        mean = float(np.nanmean(taus)) if attack_cols and np.isfinite(taus).any() else float("nan")
        lines.append("| " + " | ".join([row.label, *(_fmt(group.cells[i][j]) for j in cols),
                                         "n/a" if not math.isfinite(mean) else f"{mean:+.2f}"]) + " |")
    if group.ceilings and any(c is not None for c in group.ceilings):
        ceiling = [group.ceilings[j] for j in cols]
        taus = [group.ceilings[j].tau for j in attack_cols if group.ceilings[j] is not None]
        mean = f"{np.nanmean(taus):+.2f}" if taus else "n/a"
        lines.append("| **noise ceiling** (replicate vs replicate) | "
                     + " | ".join("n/a" if c is None else _fmt(Cell(c.tau, c.low, c.high, c.pairs)) for c in ceiling)
                     + f" | {mean} |")
    text = [f"Kendall's tau-b over {len(group.archs)} architectures ({group.name})"
            + (f", {confidence:.0%} bootstrap intervals over {resamples} resamples of the architectures." if resamples
               else ", no bootstrap intervals."), group.noise_note, "", *lines, ""]
    if group.missing:
        text.append("Undefined values (architectures left out of the pairs that involve them):")
        text.append("")
        for label, archs in group.missing.items():
            shown = ", ".join(f"`{a}`" for a in archs[:5])
            more = f" and {len(archs) - 5} more (all listed in the JSON)" if len(archs) > 5 else ""
            text.append(f"- {label}: NaN on {len(archs)} architecture{'s' if len(archs) != 1 else ''}: {shown}{more}")
        text.append("")
    return "\n".join(text)


def heatmap(group: Group, kinds: tuple[str, ...], path: Any, title: str) -> Any:
    """Rows = predictors, columns = the targets of ``kinds`` (attack x radius grouped by attack, as in
    Jung et al. Fig. 3 and 4), colour and number = tau."""
    cols = [j for j, c in enumerate(group.columns) if c.kind in kinds]
    if not cols:
        return None
    tau = group.matrix("tau")[:, cols]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.42 * len(cols) + 3.0), max(2.5, 0.36 * len(group.rows) + 1.8)),
                           dpi=110, layout="constrained")
    image = ax.imshow(tau, cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
    for i in range(tau.shape[0]):
        for j in range(tau.shape[1]):
            if math.isfinite(tau[i, j]):
                ax.text(j, i, f"{tau[i, j]:.2f}".replace("0.", ".", 1), ha="center", va="center", fontsize=5.5,
                        color="white" if abs(tau[i, j]) > 0.6 else "black")
    columns = [group.columns[j] for j in cols]
    ax.set_xticks(range(len(cols)), [c.eps if c.kind == "attack" else c.label for c in columns], rotation=90,
                  fontsize=6.5)
    ax.set_yticks(range(len(group.rows)), [r.label for r in group.rows], fontsize=7)
    # attack names over their radius columns, separated by lines
    starts = [k for k, c in enumerate(columns) if c.kind == "attack" and (k == 0 or columns[k - 1].group != c.group)]
    for k in starts:
        end = next((e for e in range(k + 1, len(columns)) if columns[e].group != columns[k].group), len(columns))
        ax.text((k + end - 1) / 2, -0.7, columns[k].group, ha="center", va="bottom", fontsize=8)
        if k:
            ax.axvline(k - 0.5, color="black", linewidth=0.8)
    ax.set_title(title, fontsize=9, pad=20 if starts else 6)
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02, label="Kendall tau-b")
    return save_figure(fig, path, tight=False)  # laid out by "constrained": one draw, not two (hundreds of labels)


#: Verdict thresholds of the summary ranking (robnas's choice, stated in the report).
GOOD_TAU = 0.3


def verdict(cell: Cell) -> str:
    """How a predictor ranks a target, from tau and its interval (thresholds: :data:`GOOD_TAU`)."""
    if not math.isfinite(cell.tau):
        return "undefined"
    low = cell.low if math.isfinite(cell.low) else cell.tau
    high = cell.high if math.isfinite(cell.high) else cell.tau
    if high < 0:
        return "ranks the wrong way"
    if low <= 0:
        return "no detectable ranking"
    return "ranks well" if cell.tau >= GOOD_TAU else "weak"


def ranking_markdown(group: Group, column: str) -> str:
    """Predictors sorted by tau against one target, with interval and verdict (a README-ready table)."""
    j = next(k for k, c in enumerate(group.columns) if c.label == column)
    order = sorted(range(len(group.rows)), key=lambda i: -np.nan_to_num(group.cells[i][j].tau, nan=-9.0))
    lines = [f"| predictor | tau-b vs {column} ({group.name}) | verdict |", "|---|---|---|"]
    for i in order:
        cell = group.cells[i][j]
        lines.append(f"| {group.rows[i].label} | {_fmt(cell)} | {verdict(cell)} |")
    ceiling = group.ceilings[j] if group.ceilings else None
    if ceiling is not None:
        lines.append(f"| *noise ceiling: a second training of the same cells* | "
                     f"{_fmt(Cell(ceiling.tau, ceiling.low, ceiling.high, ceiling.pairs))} | |")
    note = (f"Verdicts: 'ranks well' = interval above 0 and tau >= {GOOD_TAU}; 'weak' = interval above 0, tau "
            f"below {GOOD_TAU}; 'no detectable ranking' = interval contains 0; 'ranks the wrong way' = interval "
            "below 0. " + group.noise_note)
    return "\n".join(lines) + "\n\n" + note + "\n"
