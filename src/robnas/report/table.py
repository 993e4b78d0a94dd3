"""Markdown robustness table in the layout of Table 1 of Devaguptapu et al.

Model | Params | Clean % | FGSM | F-FGSM | PGD | AutoPGD | HRS  (+ PP-HRS with a baseline, + the
point-wise worst case over all attacks), one table per epsilon.
"""

from __future__ import annotations

from typing import Any

from robnas.errors import InvalidValueError
from robnas.evaluation import ATTACK_TITLES
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
    """``rows`` are model records (``label``, ``params`` and the fields of ``evaluate_model``)."""
    if not rows:
        return "_no models evaluated_\n"
    check_baseline(baseline, [r["label"] for r in rows])
    base_params = next((r["params"] for r in rows if r["label"] == baseline), None)
    attacks = list(rows[0]["attacks"])
    eps_keys = list(rows[0]["worst_case"])
    hrs_attack = ATTACK_TITLES.get(rows[0]["hrs_attack"], rows[0]["hrs_attack"])
    out: list[str] = []
    for key in eps_keys:
        head = ["Model", "Params", "Clean %", *(ATTACK_TITLES.get(a, a) for a in attacks), "Worst case", "HRS"]
        if base_params is not None:
            head.append("PP-HRS")
        out.append(f"**eps = {key}** (accuracy %, n = {rows[0]['n']}; HRS from {hrs_attack}; "
                   "worst case = robust to every attack)\n")
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
        for r in rows:
            cells = [r["label"], _params(r["params"]), f"{r['clean']['accuracy']:.2f}"]
            cells += [f"{r['attacks'][a][key]['accuracy']:.2f}" for a in attacks]
            cells += [f"{r['worst_case'][key]:.2f}", f"{r['hrs'][key]:.2f}"]
            if base_params is not None:
                cells.append(f"{pp_hrs(r['hrs'][key], r['params'], base_params):.2f}")
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        out.extend(cumulative_lines(rows, attacks, key))
    out.append(reliability_section(rows))
    return "\n".join(out)


# Members of a composite are named as in the AutoAttack paper (Table 1's "AutoPGD" column is APGD-CE).
_MEMBER_TITLES = {**ATTACK_TITLES, "apgd-ce": "APGD-CE"}


def cumulative_lines(rows: list[dict[str, Any]], attacks: list[str], key: str) -> list[str]:
    """For composite attacks (AutoAttack): each model's robust accuracy after each member, at eps ``key``."""
    lines = []
    for r in rows:
        for a in attacks:
            steps = r["attacks"][a][key].get("cumulative")
            if steps:
                chain = " -> ".join(f"{_MEMBER_TITLES.get(m, m)} {acc:.2f}" for m, acc in steps.items())
                lines.append(f"- {r['label']}, {ATTACK_TITLES.get(a, a)} cumulative robust accuracy %: "
                             f"clean {r['clean']['accuracy']:.2f} -> {chain}")
    return lines + [""] if lines else []


def reliability_section(rows: list[dict[str, Any]]) -> str:
    """Markdown list of every model's reliability flags (see robnas.evaluation.reliability)."""
    checked = [r for r in rows if "reliability" in r]
    if not checked:
        return ""
    lines = ["**Reliability checks**\n"]
    for r in checked:
        if not r["reliability"]:
            lines.append(f"- {r['label']}: no warning (gradients, randomness, outputs, eps monotonicity, "
                         "unbounded eps, PGD vs FGSM, black-box vs white-box)")
        for flag in r["reliability"]:
            lines.append(f"- {r['label']}: **{flag['name']}**: {flag['message']}")
    return "\n".join(lines) + "\n"
