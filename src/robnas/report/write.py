"""Write a robustness report (JSON + Markdown + PNG) for a list of model records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from robnas.report.grid_table import corruption_tables, grid_tables
from robnas.report.plots import plot_clean_vs_robust
from robnas.report.table import reliability_section, robustness_table
from robnas.store.atomic import write_json_atomic, write_text_atomic


def write_report(results_dir: Path, rows: list[dict[str, Any]], meta: dict[str, Any],
                 baseline: str | None = None) -> list[Path]:
    """results.json (everything), table.md (Table 1 layout, or the protocol grid; corruptions) and, for
    the attack suite, clean_vs_<attack>.png (Figure 1). Protocol records also go to
    ``robustness/<dataset>/`` in the robustness-dataset layout, keyed by model label."""
    suite_rows = [r for r in rows if "protocol" not in r]
    grid_rows = [r for r in rows if "protocol" in r]
    table = robustness_table(suite_rows, baseline) if suite_rows else ""  # validates the baseline first
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path = results_dir / "results.json"
    write_json_atomic(json_path, {**meta, "models": rows})
    md_path = results_dir / "table.md"
    title = f"# Robustness report: {meta.get('dataset', '')}\n\n"
    body = table + grid_tables(grid_rows) + (reliability_section(grid_rows) if grid_rows else "")
    write_text_atomic(md_path, title + body + corruption_tables(rows))
    paths = [json_path, md_path]
    if suite_rows:
        attack = suite_rows[0]["hrs_attack"]
        first_eps = next(iter(suite_rows[0]["worst_case"]))
        paths.append(plot_clean_vs_robust(suite_rows, results_dir / f"clean_vs_{attack}.png", first_eps, attack,
                                          title=f"{meta.get('dataset', '')}: clean vs {attack} (area = params)"))
    if grid_rows:
        from robnas.evaluation.threat_models import protocol
        from robnas.store.robustness_layout import write_results

        ids = {r["label"]: {"model": r.get("model"), "kwargs": r.get("kwargs"), "params": r.get("params")}
               for r in grid_rows}
        paths += write_results(results_dir / "robustness", meta.get("dataset", "dataset"),
                               {r["label"]: r["results"] for r in grid_rows}, protocol(grid_rows[0]["protocol"]), ids)
    return paths
