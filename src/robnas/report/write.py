"""Write a robustness report (JSON + Markdown + PNG) for a list of model records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from robnas.report.plots import plot_clean_vs_robust
from robnas.report.table import robustness_table
from robnas.store.atomic import write_json_atomic, write_text_atomic


def write_report(results_dir: Path, rows: list[dict[str, Any]], meta: dict[str, Any],
                 baseline: str | None = None) -> list[Path]:
    """results.json (everything), table.md (Table 1 layout), clean_vs_<attack>.png (Figure 1)."""
    table = robustness_table(rows, baseline)  # validates the baseline before anything is written
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path = results_dir / "results.json"
    write_json_atomic(json_path, {**meta, "models": rows})
    md_path = results_dir / "table.md"
    title = f"# Robustness report: {meta.get('dataset', '')}\n\n"
    write_text_atomic(md_path, title + table)
    paths = [json_path, md_path]
    attack = rows[0]["hrs_attack"] if rows else "pgd"
    if rows:
        first_eps = next(iter(rows[0]["worst_case"]))
        paths.append(plot_clean_vs_robust(rows, results_dir / f"clean_vs_{attack}.png", first_eps, attack,
                                          title=f"{meta.get('dataset', '')}: clean vs {attack} (area = params)"))
    return paths
