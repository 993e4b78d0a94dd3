"""The rank-correlation study (Jung et al. Fig. 3 and 4): how well clean accuracy and training-free
proxies rank architectures by robustness, with bootstrap intervals.

Rows are *predictors* -- clean accuracy and every proxy, oriented (:mod:`robnas.bench.measurements`)
so that **a positive tau means the predictor ranks architectures the right way** (a larger oriented
value goes with a higher accuracy). Columns are *targets* -- clean accuracy, every attack key x
radius, every corruption (mean over severities) and the corruption mean. A cell is Kendall's tau-b
(``scipy.stats.kendalltau``) over the architectures where both values are finite, and the central
``confidence`` interval of tau over ``bootstrap`` resamples of the architectures (the same seeded
resamples for every cell of a group, so intervals are comparable). The study is done on all
architectures and on the top k% by clean accuracy, where rankings decide a search.

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
from robnas.eps import Eps
from robnas.errors import InvalidValueError

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


@dataclass(frozen=True)
class Cell:
    tau: float
    low: float
    high: float
    n: int                       # architectures with both values finite


def correlate_row(task: RowTask) -> list[Cell]:
    """tau-b and its bootstrap interval of ``task.values`` against each target column."""
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
        cells.append(Cell(tau, low, high, used))
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

    def tasks(self, resamples: int, seed: int, confidence: float) -> list[RowTask]:
        targets = np.stack([c.values for c in self.columns], axis=1)
        return [RowTask(r.label, r.values, targets, resamples, seed, confidence) for r in self.rows]

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
    text = [f"Kendall's tau-b over {len(group.archs)} architectures ({group.name})"
            + (f", {confidence:.0%} bootstrap intervals over {resamples} resamples of the architectures." if resamples
               else ", no bootstrap intervals."), "", *lines, ""]
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
    from robnas.store.figures import pyplot, save_figure

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
    note = (f"Verdicts: 'ranks well' = interval above 0 and tau >= {GOOD_TAU}; 'weak' = interval above 0, tau "
            f"below {GOOD_TAU}; 'no detectable ranking' = interval contains 0; 'ranks the wrong way' = interval "
            "below 0.")
    return "\n".join(lines) + "\n\n" + note + "\n"
