"""``results/ensemble.md``: the random-cell ensemble experiment's page -- its recipe, Table 6, the sampled cells."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from robnas.ensembles.plan import ExperimentPlan
from robnas.ensembles.settings import Experiment
from robnas.report.ensemble_table import Group, ensemble_table
from robnas.store.atomic import write_text_atomic


def table_groups(exp: Experiment, plan: ExperimentPlan, rows: dict[str, dict[str, Any]]) -> list[Group]:
    """Table 6's lines: each published cell, RANDOM* (the single random runs), ENSEMBLE† (the ensemble runs)."""
    total = str(exp.ensemble.total_cells)
    groups = [Group(net.label, total, (rows[net.label],)) for net in plan.published]
    if plan.singles:
        groups.append(Group("RANDOM*", total, tuple(rows[n.label] for n in plan.singles)))
    split = "+".join(map(str, exp.ensemble.cells))
    groups.append(Group("ENSEMBLE†", split, tuple(rows[e.label] for e in plan.ensembles)))
    return groups


def ensemble_page(exp: Experiment, plan: ExperimentPlan, rows: dict[str, dict[str, Any]], dataset: str) -> str:
    ens, t = exp.ensemble, exp.train
    epochs = "/".join(str(m.epochs) for m in plan.ensembles[0].members)
    lines = [f"# Random-cell ensembles: {dataset} (Devaguptapu et al., Table 6)\n",
             f"Every network trained without adversarial training unless [train] says so; full networks "
             f"{ens.total_cells} cells, {t.epochs} epochs; ensemble members {'+'.join(map(str, ens.cells))} cells, "
             f"{epochs} epochs, then the combiner {ens.combiner_epochs} epochs (members frozen). The ensemble is "
             "attacked as one network.\n", ensemble_table(table_groups(exp, plan, rows)),
             "\\* single random cells, † ensembles of small random cells.\n", "## Sampled cells\n"]
    for e in plan.ensembles:
        lines += [f"- {e.label}: " + "; ".join(f"{m.kwargs['layers']} cells of `{m.kwargs['genotype']}`"
                                             for m in e.members)]
    lines += [f"- {n.label}: `{n.kwargs['genotype']}`" for n in plan.singles]
    return "\n".join(lines) + "\n"


def write_ensemble_report(results_dir: Path, exp: Experiment, plan: ExperimentPlan,
                          rows: dict[str, dict[str, Any]], dataset: str) -> Path:
    """Write ``ensemble.md`` into ``results_dir``; returns its path."""
    path = results_dir / "ensemble.md"
    write_text_atomic(path, ensemble_page(exp, plan, rows, dataset))
    return path
