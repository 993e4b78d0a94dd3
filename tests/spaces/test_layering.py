"""Spaces sit below models and search: they import only the core, ``robnas.nn`` and ``robnas.store`` (lazily too).

The low-level ``robnas.nn`` (normalisation, the classifier wrapper and its spec) imports only the core.
(The core here: errors, the registry idiom and the shared validation rules of ``robnas.checks``.)
Imports are read from the source (every ``import`` statement, including those inside functions and
``TYPE_CHECKING`` blocks), so a late import cannot hide a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "robnas"
#: package -> the robnas modules it may import (anything outside robnas is not checked here).
ALLOWED = {
    "spaces": ("robnas.errors", "robnas.registry", "robnas.checks", "robnas.nn", "robnas.store", "robnas.spaces"),
    "nn": ("robnas.errors", "robnas.registry", "robnas.checks", "robnas.nn"),
}


def _robnas_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name == "robnas" or name.startswith("robnas.")]


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_down(package):
    files = sorted((SRC / package).rglob("*.py"))
    assert files
    bad = [f"{path.relative_to(SRC)}:{line} imports {name}" for path in files for line, name in _robnas_imports(path)
           if not any(name == ok or name.startswith(ok + ".") for ok in ALLOWED[package])]
    assert not bad, "; ".join(bad)
