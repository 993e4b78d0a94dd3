"""What the benchmark studies share: a report section per study, the report that joins them, and the radius
the studies show attacks at."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from robnas.bench.benchmark import Benchmark
from robnas.bench.lookup import fgsm_radius
from robnas.errors import UnknownNameError
from robnas.store.atomic import write_text_atomic
from robnas.store.run_dir import RunDir


@dataclass
class Section:
    """One study's part of a report: Markdown (figures linked relative to the results directory)."""

    title: str
    markdown: str
    files: list[Path] = field(default_factory=list)

    def text(self, level: int = 2) -> str:
        return f"{'#' * level} {self.title}\n\n{self.markdown.strip()}\n"


def write_study_report(run: RunDir, title: str, sections: list[Section], intro: str = "") -> Path:
    """``results/report.md``: the title, an introduction and every section."""
    parts = [f"# {title}\n", intro.strip() + "\n" if intro.strip() else "", *(s.text() for s in sections)]
    path = run.results / "report.md"
    write_text_atomic(path, "\n".join(p for p in parts if p))
    return path


def reference_radius(bench: Benchmark) -> str | None:
    """The FGSM radius the studies report at (:func:`robnas.bench.lookup.fgsm_radius`), if any."""
    try:
        return fgsm_radius(bench)[1]
    except UnknownNameError:
        return None
