"""Write a robustness report (JSON + Markdown + PNG) for a list of report rows.

A row is a model's description (``label``, ``params``, ...) with its :class:`EvaluationRecord` under
``evaluation``. Records whose threat models share norm and radii (an attack suite, Table 1 of
Devaguptapu et al., AdvRush, RNAS) are written in the layout of Table 1 with Figure 1; the others (a
grid such as Jung et al.'s) as one table per threat model and in the robustness dataset's layout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from robnas.evaluation.record import row_to_json
from robnas.report.grid_table import corruption_tables, grid_tables
from robnas.report.plots import plot_clean_vs_robust
from robnas.report.table import reliability_section, robustness_table
from robnas.store.atomic import write_json_atomic, write_text_atomic
from robnas.bench.layout import write_results


def table_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows written in the layout of Table 1 (their threat models share norm and radii)."""
    return [r for r in rows if r["evaluation"].shares_radii()]


def figure_name(rows: list[dict[str, Any]]) -> str | None:
    """The file of Figure 1 (clean vs the HRS threat model) for these table rows, or None without HRS."""
    key = rows[0]["evaluation"].hrs_key if rows else None
    return None if key is None else f"clean_vs_{key}.png"


def write_robustness_report(results_dir: Path, rows: list[dict[str, Any]], meta: dict[str, Any],
                 baseline: str | None = None) -> list[Path]:
    """results.json (everything), table.md (Table 1 layout, or the grid; corruptions) and, for Table 1
    rows with an HRS threat model, clean_vs_<key>.png (Figure 1). Grid records also go to
    ``robustness/<dataset>/`` in the robustness-dataset layout, keyed by model label."""
    suite_rows = table_rows(rows)
    grid_rows = [r for r in rows if not r["evaluation"].shares_radii()]
    table = robustness_table(suite_rows, baseline) if suite_rows else ""  # validates the baseline first
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path = results_dir / "results.json"
    write_json_atomic(json_path, {**meta, "models": [row_to_json(r) for r in rows]})
    md_path = results_dir / "table.md"
    title = f"# Robustness report: {meta.get('dataset', '')}\n\n"
    body = table + grid_tables(grid_rows) + (reliability_section(grid_rows) if grid_rows else "")
    write_text_atomic(md_path, title + body + corruption_tables(rows))
    paths = [json_path, md_path]
    figure = figure_name(suite_rows)
    if figure is not None:
        first = suite_rows[0]["evaluation"]
        paths.append(plot_clean_vs_robust(suite_rows, results_dir / figure, first.radii()[0], first.hrs_key,
                                          title=f"{meta.get('dataset', '')}: clean vs {first.hrs_key} (area = params)"))
    if grid_rows:
        layouts = {r["label"]: r["evaluation"].robustness_layout() for r in grid_rows}
        ids = {r["label"]: {"model": r.get("model"), "kwargs": r.get("kwargs"), "params": r.get("params")}
               for r in grid_rows}
        epsilons = {k: v for layout in layouts.values() for k, v in layout[1].items()}
        severities = {k: v for layout in layouts.values() for k, v in layout[2].items()}
        paths += write_results(results_dir / "robustness", meta.get("dataset", "dataset"),
                               {label: layout[0] for label, layout in layouts.items()}, epsilons, severities, ids)
    return paths
