"""Reports: Markdown tables laid out like the papers' and PNG plots."""

from robnas.report.plots import plot_clean_vs_robust
from robnas.report.table import robustness_table
from robnas.report.robustness_report import write_robustness_report

__all__ = ["robustness_table", "plot_clean_vs_robust", "write_robustness_report"]
