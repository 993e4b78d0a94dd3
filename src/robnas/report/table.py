"""Markdown robustness table in the layout of Table 1 of Devaguptapu et al.

Model | Params | Clean % | FGSM | F-FGSM | PGD | AutoPGD | Worst case | HRS (+ PP-HRS with a baseline),
one table per epsilon, a column per threat model titled by its attack (``Attack.title``). Rows are
report rows: a model's ``label`` and ``params`` with its :class:`EvaluationRecord` under ``evaluation``.
"""

from __future__ import annotations

from typing import Any

from robnas.attacks import ATTACKS
from robnas.errors import InvalidValueError
from robnas.evaluation.record import EvaluationRecord, ThreatModelResult
from robnas.metrics import pp_hrs


def _params(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e5 else f"{n / 1e3:.1f}K"


def check_baseline(baseline: str | None, labels: list[str]) -> None:
    """The PP-HRS baseline must be one of the evaluated models (checked before any work is done)."""
    if baseline is not None and baseline not in labels:
        raise InvalidValueError(
            f"PP-HRS baseline {baseline!r} is not among the models ({', '.join(labels)}); "
            "pass one of their labels to --baseline"
        )


def robustness_table(rows: list[dict[str, Any]], baseline: str | None = None) -> str:
    """One table per radius of the first row's record (its threat models share norm and radii)."""
    if not rows:
        return "_no models evaluated_\n"
    check_baseline(baseline, [r["label"] for r in rows])
    base_params = next((r["params"] for r in rows if r["label"] == baseline), None)
    first: EvaluationRecord = rows[0]["evaluation"]
    keys = list(first.threat_models)
    norm = first.threat_models[keys[0]].norm
    with_hrs = first.hrs_key is not None
    hrs_note = f"; HRS from {first.threat_models[first.hrs_key].title}" if with_hrs else ""
    out: list[str] = []
    for eps in first.radii():
        head = ["Model", "Params", "Clean %", *(first.threat_models[k].title for k in keys), "Worst case"]
        head += ["HRS"] if with_hrs else []
        if with_hrs and base_params is not None:
            head.append("PP-HRS")
        out.append(f"**eps = {eps}** (accuracy %, n = {first.n}{hrs_note}; worst case = robust to every attack)\n")
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
        for r in rows:
            rec: EvaluationRecord = r["evaluation"]
            cells = [r["label"], _params(r["params"]), f"{rec.clean.accuracy:.2f}"]
            cells += [f"{rec.threat_models[k].by_eps[eps].accuracy:.2f}" for k in keys]
            cells.append(f"{rec.worst_case[norm][eps]:.2f}")
            if with_hrs:
                cells.append(f"{rec.hrs[eps]:.2f}")
                if base_params is not None:
                    cells.append(f"{pp_hrs(rec.hrs[eps], r['params'], base_params):.2f}")
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        out.extend(cumulative_lines(rows, eps))
    out.append(reliability_section(rows))
    return "\n".join(out)


def member_title(composite: ThreatModelResult, member: str) -> str:
    """A composite's member as the composite's literature names it (AutoAttack: APGD-CE), else its own title."""
    return ATTACKS.get(composite.attack).member_titles.get(member) or ATTACKS.get(member).title


def cumulative_lines(rows: list[dict[str, Any]], eps: Any) -> list[str]:
    """For composite attacks (AutoAttack): each model's robust accuracy after each member, at ``eps``."""
    lines = []
    for r in rows:
        rec: EvaluationRecord = r["evaluation"]
        for result in rec.threat_models.values():
            measures = result.by_eps.get(eps)
            if measures is not None and measures.cumulative:
                chain = " -> ".join(f"{member_title(result, m)} {acc:.2f}" for m, acc in measures.cumulative.items())
                lines.append(f"- {r['label']}, {result.title} cumulative robust accuracy %: "
                             f"clean {rec.clean.accuracy:.2f} -> {chain}")
    return lines + [""] if lines else []


def reliability_section(rows: list[dict[str, Any]]) -> str:
    """Markdown list of every model's reliability flags (see robnas.evaluation.reliability)."""
    checked = [r for r in rows if r["evaluation"].reliability is not None]
    if not checked:
        return ""
    lines = ["**Reliability checks**\n"]
    for r in checked:
        flags = r["evaluation"].reliability
        if not flags:
            lines.append(f"- {r['label']}: no warning (gradients, randomness, outputs, eps monotonicity, "
                         "unbounded eps, PGD vs FGSM, black-box vs white-box)")
        for flag in flags:
            lines.append(f"- {r['label']}: **{flag.name}**: {flag.message}")
    return "\n".join(lines) + "\n"
