"""Markdown tables for threat-model grids (``--protocol jung``) and common corruptions.

A grid has one table per result key (``fgsm@Linf``, ...) with the models as rows and the radii
(1/255 units) as columns; corruptions get one table with each corruption's mean accuracy over
the five severities and the overall mean (mCA), plus a per-severity table.
"""

from __future__ import annotations

from typing import Any

from robnas.evaluation.threat_models import SEVERITIES, protocol


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _header(head: list[str]) -> list[str]:
    return [_row(head), "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]


def grid_tables(rows: list[dict[str, Any]]) -> str:
    """Accuracy (%) per threat model and radius for records made with a protocol."""
    gridded = [r for r in rows if "protocol" in r]
    if not gridded:
        return ""
    out = [f"**Protocol `{gridded[0]['protocol']}`** (accuracy %, n = {gridded[0]['n']}; radii in 1/255)\n"]
    for tm in protocol(gridded[0]["protocol"]):
        out.append(f"*{tm.key}*\n")
        out += _header(["Model", "Clean", *(f"{e:g}" for e in tm.eps_255)])
        for r in gridded:
            accs = r["results"].get(tm.key, {}).get("accuracy", [])
            out.append(_row([r["label"], f"{r['clean']['accuracy']:.2f}", *(f"{a:.2f}" for a in accs)]))
        out.append("")
    return "\n".join(out) + "\n"


def corruption_tables(rows: list[dict[str, Any]]) -> str:
    """Mean accuracy per corruption and the mCA; then accuracy per severity averaged over corruptions."""
    with_c = [r for r in rows if "corruptions" in r]
    if not with_c:
        return ""
    names = list(with_c[0]["corruptions"]["per_corruption"])
    out = [f"**Common corruptions** (accuracy %, mean over severities {SEVERITIES[0]}-{SEVERITIES[-1]})\n"]
    out += _header(["Model", "Clean", *names, "Mean (mCA)"])
    for r in with_c:
        per = r["corruptions"]["per_corruption"]
        out.append(_row([r["label"], f"{r['clean']['accuracy']:.2f}", *(f"{per[n]['mean']:.2f}" for n in names),
                         f"{r['corruptions']['mean']:.2f}"]))
    out += ["", "*by severity* (mean over the corruptions)\n"]
    out += _header(["Model", *(str(s) for s in SEVERITIES)])
    for r in with_c:
        per = r["corruptions"]["per_corruption"]
        means = [sum(per[n]["accuracy"][i] for n in names) / len(names) for i in range(len(SEVERITIES))]
        out.append(_row([r["label"], *(f"{m:.2f}" for m in means)]))
    return "\n".join(out) + "\n"
