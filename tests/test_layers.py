"""The house rules: imports only point down the layers, and no module imports itself through others.

Every ``import`` of a robnas module anywhere in ``src/robnas`` counts -- lazy imports inside
functions too -- so a layer cannot reach up by hiding an import in a function body. The layers are
the ones the README's "Architecture" table documents, row for row (test_the_readme_documents_these_layers).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Most specific prefix first; a module's layer is that of the longest prefix it starts with.
LAYERS: dict[str, int] = {
    "robnas": 10, "robnas._version": 0, "robnas.errors": 0, "robnas.checks": 0, "robnas.rng": 0, "robnas.device": 0, "robnas.threads": 0,
    "robnas.registry": 0, "robnas.eps": 0, "robnas.config": 0, "robnas.distributed": 0, "robnas.backends": 0,
    "robnas.store": 1, "robnas.nn": 1,
    "robnas.data": 2, "robnas.corruptions": 2, "robnas.attacks": 2, "robnas.spaces": 2,
    "robnas.models": 3,
    "robnas.metrics": 4, "robnas.proxies": 4, "robnas.adversarial_sets": 4, "robnas.evaluation": 4,
    "robnas.certify": 4,
    "robnas.train": 5,
    "robnas.search": 6, "robnas.ensembles": 6,
    "robnas.bench": 7,
    "robnas.report": 8,
    "robnas.pipeline": 9,
    "robnas.cli": 10, "robnas.cli_flags": 10, "robnas.plugins": 10, "robnas.__main__": 10,
}
NAMES = ["core", "store/nn", "data/corruptions/attacks/spaces", "models", "metrics/proxies/evaluation",
         "train", "search/ensembles", "bench", "report", "pipeline", "cli"]


def layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / "robnas").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(module: str, path: Path, known: set[str]) -> set[str]:
    """Every robnas module ``module`` imports (``from x import y`` counts y when y is a module)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name in known and name != module:
                out.add(name)
    return out


GRAPH = {m: imports(m, p, set(modules())) for m, p in modules().items()}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_only_point_down(module):
    up = [f"{dep} ({NAMES[layer(dep)]})" for dep in sorted(GRAPH[module]) if layer(dep) > layer(module)]
    assert not up, f"{module} ({NAMES[layer(module)]}) imports a higher layer: {', '.join(up)}"


def test_no_import_cycles():
    # Package __init__ modules re-export their submodules; a submodule importing a sibling through its
    # package is not a cycle of ideas, so edges into a package's own __init__ from inside it are skipped.
    def edges(m: str) -> set[str]:
        return {d for d in GRAPH[m] if not m.startswith(d + ".")}

    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(edges(m)):
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


def readme_layers() -> dict[str, int]:
    """The README's "Architecture" table as {module: layer}: a row whose first cell is empty continues the layer
    above; each `name.py` or `name/` in the folders cell is the module robnas.name."""
    text = (SRC.parent / "README.md").read_text()
    section = text.split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]  # after the header and |---|
    found: dict[str, int] = {}
    index = -1
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        index += bool(cells[0])
        for name in re.findall(r"`([^`]+)`", cells[1]):
            found["robnas." + name.removesuffix(".py").removesuffix("/").replace("/", ".")] = index
    return found


def test_the_readme_documents_these_layers():
    documented = readme_layers()
    expected = {module: number for module, number in LAYERS.items() if module != "robnas"}
    assert max(documented.values()) + 1 == len(NAMES), "the README's table and NAMES count different layers"
    wrong = {m: (documented.get(m), expected.get(m)) for m in sorted(documented.keys() | expected.keys())
             if documented.get(m) != expected.get(m)}
    assert not wrong, f"README Architecture table vs LAYERS (module: (README layer, LAYERS layer)): {wrong}"


# Jobs are thin: each turns one command's config into library calls, so no job imports another job --
# logic two commands share belongs in the library, where a Python user reaches it too. Every job may import
# the RunConfig (pipeline.config) and the one glue module the jobs share, pipeline.models: a job's
# [[models]] entries and --checkpoint paths turned into networks (ModelConfig is a RunConfig section, so
# that translation cannot move down into the library without the config).
JOB_GLUE = {"robnas.pipeline.config", "robnas.pipeline.models"}
# The bench actions share their own glue module, pipeline.bench.common (the benchmark argument, the run
# directory, the backend); the studies themselves (and `bench study`, which runs three of them) are library
# modules of robnas.bench.
BENCH_GLUE = {"robnas.pipeline.bench.common"}


def allowed_job_import(module: str, dep: str) -> bool:
    if dep in JOB_GLUE:
        return True
    return module.startswith("robnas.pipeline.bench.") and dep in BENCH_GLUE


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.startswith("robnas.pipeline.")))
def test_no_job_imports_another_job(module):
    jobs = sorted(d for d in GRAPH[module] if d.startswith("robnas.pipeline") and not allowed_job_import(module, d))
    assert not jobs, f"{module} imports the jobs {', '.join(jobs)}: move what they share into the library"
