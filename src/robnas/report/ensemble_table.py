"""Table 6 of Devaguptapu et al.: published cells, single random cells and random-cell ensembles.

Model | # cells | Params | Clean % | one column per threat model (PGD, AutoPGD), a table per radius;
groups of several runs (RANDOM*, ENSEMBLE†) show mean ± standard deviation over the runs (sample
standard deviation, n - 1; the paper does not say which), single networks their value.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from robnas.evaluation.record import EvaluationRecord


@dataclass(frozen=True)
class Group:
    """One line of the table: the report rows (one per run) of one kind of network."""

    name: str
    cells: str                      # "20", or the members' split "12+6+2"
    rows: tuple[dict[str, Any], ...]


def _spread(values: Sequence[float], digits: int) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def _params(values: Sequence[int]) -> str:
    # Millions as in the paper; thousands for the tiny networks of the digits config.
    scale, unit = (1e6, "M") if max(values) >= 1e5 else (1e3, "K")
    return _spread([v / scale for v in values], 2) + unit


def columns(record: EvaluationRecord, eps: Any) -> list[str]:
    """The threat models measured at ``eps`` (a named grid protocol's threat models may have other radii:
    they are left out of this table, not of table.md)."""
    return [key for key, t in record.threat_models.items() if eps in t.by_eps]


def group_values(group: Group, eps: Any) -> dict[str, list[float]]:
    """Per column, the runs' values: ``params``, ``clean`` and each threat model's accuracy at ``eps``."""
    out: dict[str, list[float]] = {"params": [r["params"] for r in group.rows],
                                   "clean": [r["evaluation"].clean.accuracy for r in group.rows]}
    for key in columns(group.rows[0]["evaluation"], eps):
        out[key] = [r["evaluation"].threat_models[key].by_eps[eps].accuracy for r in group.rows]
    return out


def ensemble_table(groups: Sequence[Group]) -> str:
    """The Markdown tables, one per radius of the records (accuracies in percent)."""
    first: EvaluationRecord = groups[0].rows[0]["evaluation"]
    out = []
    for eps in first.radii():
        keys = columns(first, eps)
        head = ["Model", "# cells", "Params", "Clean %", *(first.threat_models[k].title for k in keys)]
        out += [f"**eps = {eps}** (accuracy %, n = {first.n}; mean ± std over runs where a model has several)\n",
                "| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
        for group in groups:
            values = group_values(group, eps)
            runs = f" ({len(group.rows)} runs)" if len(group.rows) > 1 else ""
            cells = [group.name + runs, group.cells, _params(values["params"]), _spread(values["clean"], 2)]
            cells += [_spread(values[k], 2) for k in keys]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)
