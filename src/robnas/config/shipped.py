"""Configs shipped with robnas as package data: ``--config NAME`` takes a shipped name or a file path.

``robnas list configs`` lists them; ``robnas run`` without ``--config`` runs ``digits``, the README's
main job (search a cell with AdvRush, train it next to DARTS_V2 and ResNet-18, attack all three).
"""

from __future__ import annotations

from pathlib import Path

from robnas.registry import Registry

DIRECTORY = Path(__file__).resolve().parents[1] / "configs"
MAIN_JOB = "digits"

CONFIGS: Registry[Path] = Registry("config", "configs")
for _path in sorted(DIRECTORY.glob("*.toml")):
    CONFIGS.register(_path.stem)(_path)


def config_path(name_or_path: str) -> Path:
    """An existing file as given, else the shipped config of that name (unknown names: one-line error)."""
    path = Path(name_or_path)
    if path.is_file() or path.suffix == ".toml" or len(path.parts) > 1:
        return path  # a path: read_toml reports a missing file with the fix
    return CONFIGS.get(name_or_path)
