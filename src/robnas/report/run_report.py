"""The report of ``robnas run``: ``report.md`` with the search, the models, Table 1 and the figures.

Besides the files of :func:`robnas.report.write_robustness_report` (results.json, table.md,
clean_vs_<attack>.png) it writes ``report.md``, one page that reads top to bottom: the searched
genotype with the search's own drawings (``cells.png``, ``alphas.png``, written by the search next to
it), each model's size and training cost, the Table 1 comparison (the searched architecture is a row
like the baselines), Figure 1, and, when the run computed them, the input loss landscapes
(``landscape.png``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from robnas.report.landscape_plot import write_landscape_report
from robnas.report.table import robustness_table
from robnas.report.robustness_report import figure_name, table_rows, write_robustness_report
from robnas.store.atomic import write_text_atomic

# Files the search writes into results/ (see robnas.search.differentiable.resumable).
SEARCH_FIGURES = (("cells.png", "derived normal and reduction cells"),
                  ("alphas.png", "architecture weights during the search"))


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def search_section(search: dict[str, Any], results_dir: Path) -> str:
    history = search.get("history") or []
    lines = [f"## Architecture search: {search['method']} over the {search['space']} space\n",
             f"{len(history)} search epochs in {search['seconds']:.1f} s. Derived architecture "
             f"(trained below as **{search['label']}**):\n", "```text", search["genotype"], "```\n"]
    if history:
        last = history[-1]
        lines.append("Last search epoch: " + ", ".join(f"{k} = {_number(v)}" for k, v in last.items()
                                                        if isinstance(v, (int, float))) + "\n")
    for name, caption in SEARCH_FIGURES:
        if (results_dir / name).exists():
            lines.append(f"![{caption}]({name})\n")
    return "\n".join(lines) + "\n"


def models_section(rows: list[dict[str, Any]], training: str) -> str:
    lines = ["## Models\n", f"Every model is trained with the same budget: {training}.\n",
             "| Model | Network | Params | FLOPs | Train s | Clean % |", "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        kwargs = {k: v for k, v in (r.get("kwargs") or {}).items() if k not in ("genotype", "arch")}
        network = r.get("model", "") + (f" {kwargs}" if kwargs else "")
        seconds = f"{r['train_seconds']:.1f}" if "train_seconds" in r else "-"
        lines.append(f"| {r['label']} | {network} | {r['params']:,} | {r['flops']:,} | {seconds} | "
                     f"{r['evaluation'].clean.accuracy:.2f} |")
    return "\n".join(lines) + "\n\n"


def landscape_section(rows: list[dict[str, Any]]) -> str:
    grids = [(r["label"], r["landscape"]) for r in rows if "landscape" in r]
    if not grids:
        return ""
    first = grids[0][1]
    c = len(first["axis"]) // 2
    lines = ["## Input loss landscapes (AdvRush Figure 3)\n",
             f"Cross-entropy at x + a sign(grad) + b r (r Rademacher) for a, b in [-{first['range']:.4g}, "
             f"{first['range']:.4g}], mean over {first['points']} test points; a flatter surface is the "
             "smoother input loss landscape AdvRush's regulariser favours.\n",
             "![input loss landscapes](landscape.png)\n",
             "| Model | clean loss | loss at a = +R | loss at b = +R | max on the grid |", "|---|---:|---:|---:|---:|"]
    for label, g in grids:
        lines.append(f"| {label} | {g['clean_loss']:.4f} | {g['loss'][-1][c]:.4f} | {g['loss'][c][-1]:.4f} | "
                     f"{max(max(row) for row in g['loss']):.4f} |")
    return "\n".join(lines) + "\n"


def write_run_report(results_dir: Path, rows: list[dict[str, Any]], meta: dict[str, Any],
                     search: dict[str, Any] | None = None, baseline: str | None = None) -> list[Path]:
    """Everything :func:`write_robustness_report` writes, the landscape files when the rows carry landscapes,
    and report.md."""
    paths = write_robustness_report(results_dir, rows, meta, baseline=baseline)
    grids = [(r["label"], r["landscape"]) for r in rows if "landscape" in r]
    if grids:
        paths += write_landscape_report(results_dir, grids, {"dataset": meta.get("dataset", "")})
    suite_rows = table_rows(rows)
    body = [f"# robnas run: {meta.get('dataset', '')}\n"]
    if search is not None:
        body.append(search_section(search, results_dir))
    body.append(models_section(rows, meta.get("training", "see config.toml")))
    if suite_rows:
        body += ["## Robustness (layout of Table 1 of Devaguptapu et al.)\n", robustness_table(suite_rows, baseline)]
        figure = figure_name(suite_rows)
        if figure is not None:
            key = suite_rows[0]["evaluation"].hrs_key
            body.append(f"![clean vs {key} accuracy, bubble area = parameters]({figure})\n")
    else:
        body.append("Protocol grids: see table.md and robustness/.\n")
    body.append(landscape_section(rows))
    md_path = results_dir / "report.md"
    write_text_atomic(md_path, "\n".join(body))
    return paths + [md_path]
