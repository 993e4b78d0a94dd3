"""Markdown tables for threat-model grids (``--protocol jung``) and common corruptions.

A grid has one table per result key (``fgsm@Linf``, ...) with the models as rows and the radii
(1/255 units) as columns; corruptions get one table with each corruption's mean accuracy over
the severities and the overall mean (mCA), plus a per-severity table. Rows are report rows
(``label`` and the :class:`EvaluationRecord` under ``evaluation``).
"""

from __future__ import annotations

from typing import Any

from robnas.evaluation.record import EvaluationRecord


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _header(head: list[str]) -> list[str]:
    return [_row(head), "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]


def grid_tables(rows: list[dict[str, Any]]) -> str:
    """Accuracy (%) per threat model and radius, one table per threat model of the first row's record."""
    if not rows:
        return ""
    first: EvaluationRecord = rows[0]["evaluation"]
    out = [f"**Protocol `{first.protocol}`** (accuracy %, n = {first.n}; radii in 1/255)\n"]
    for key, result in first.threat_models.items():
        out.append(f"*{key}*\n")
        out += _header(["Model", "Clean", *(f"{eps.in_255:g}" for eps in result.radii)])
        for r in rows:
            rec: EvaluationRecord = r["evaluation"]
            found = rec.threat_models.get(key)
            accs = [m.accuracy for m in found.by_eps.values()] if found is not None else []
            out.append(_row([r["label"], f"{rec.clean.accuracy:.2f}", *(f"{a:.2f}" for a in accs)]))
        out.append("")
    return "\n".join(out) + "\n"


def corruption_tables(rows: list[dict[str, Any]]) -> str:
    """Mean accuracy per corruption and the mCA; then accuracy per severity averaged over corruptions."""
    with_c = [r for r in rows if r["evaluation"].corruptions]
    if not with_c:
        return ""
    first: EvaluationRecord = with_c[0]["evaluation"]
    names = list(first.corruptions)
    severities = list(first.corruptions[names[0]])
    out = [f"**Common corruptions** (accuracy %, mean over severities {severities[0]}-{severities[-1]})\n"]
    out += _header(["Model", "Clean", *names, "Mean (mCA)"])
    for r in with_c:
        rec: EvaluationRecord = r["evaluation"]
        means = rec.corruption_means()
        out.append(_row([r["label"], f"{rec.clean.accuracy:.2f}", *(f"{means[n]:.2f}" for n in names),
                         f"{rec.mean_corruption_accuracy():.2f}"]))
    out += ["", "*by severity* (mean over the corruptions)\n"]
    out += _header(["Model", *(str(s) for s in severities)])
    for r in with_c:
        per = r["evaluation"].corruptions
        by_severity = [sum(per[n][s].accuracy for n in names) / len(names) for s in severities]
        out.append(_row([r["label"], *(f"{m:.2f}" for m in by_severity)]))
    return "\n".join(out) + "\n"
