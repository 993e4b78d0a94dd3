"""What the study actions of ``robnas bench`` share: the benchmark argument, the run directory, the
backend, and the report section each action contributes to ``report.md``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robnas.backends import check_backend, create_backend
from robnas.errors import InvalidValueError
from robnas.pipeline.config import RunConfig, written_config
from robnas.store.atomic import write_text_atomic
from robnas.store.run_dir import RunDir


@dataclass
class Section:
    """One action's part of a report: Markdown (figures linked relative to the results directory)."""

    title: str
    markdown: str
    files: list[Path] = field(default_factory=list)

    def text(self, level: int = 2) -> str:
        return f"{'#' * level} {self.title}\n\n{self.markdown.strip()}\n"


def benchmark_source(cfg: RunConfig) -> str:
    """The one benchmark argument of a study action: an absolute file path, or a shipped name."""
    action = cfg.bench.action
    if len(cfg.bench.targets) != 1:
        raise InvalidValueError(f"robnas bench {action} takes one benchmark (a file or a shipped name): "
                                f"robnas bench {action} BENCH, got {len(cfg.bench.targets)} arguments")
    source = Path(cfg.bench.targets[0])
    return str(source.resolve()) if source.is_file() else cfg.bench.targets[0]


def check_backend_settings(cfg: RunConfig) -> None:
    check_backend(cfg.bench.backend, cfg.bench.workers, cfg.bench.address)


def make_backend(cfg: RunConfig) -> Any:
    return create_backend(cfg.bench.backend, cfg.bench.workers, cfg.bench.address)


def open_run(cfg: RunConfig) -> RunDir:
    run = RunDir.create(cfg.out, cfg.name, f"bench-{cfg.bench.action}", quiet=cfg.quiet)
    run.write_config(written_config(cfg))
    return run


def write_report(run: RunDir, title: str, sections: list[Section], intro: str = "") -> Path:
    """``results/report.md``: the title, an introduction and every section."""
    parts = [f"# {title}\n", intro.strip() + "\n" if intro.strip() else "", *(s.text() for s in sections)]
    path = run.results / "report.md"
    write_text_atomic(path, "\n".join(p for p in parts if p))
    return path
