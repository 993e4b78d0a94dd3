"""Locating a dataset's files on disk and reporting missing ones in one line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from robnas.errors import DataError


def missing_files(directory: Path, names: Sequence[str]) -> list[str]:
    """The entries of ``names`` that are not files in ``directory``."""
    return [name for name in names if not (directory / name).is_file()]


def find_dataset_dir(root: Path, subdir: str | None, names: Sequence[str]) -> Path | None:
    """``root/subdir`` or ``root`` itself, whichever holds all of ``names`` (None if neither)."""
    candidates = [root / subdir, root] if subdir else [root]
    for directory in candidates:
        if not missing_files(directory, names):
            return directory
    return None


def not_found(dataset: str, root: Path, expected: str, absent: Sequence[str], total: int, fix: str) -> DataError:
    """The one-line error for a dataset that is absent (or incomplete) under ``root``.

    ``absent`` names the missing files; they are listed only when some of the ``total`` exist,
    since then the user needs to know which one to fetch again.
    """
    partial = f" (missing: {', '.join(absent)})" if 0 < len(absent) < total else ""
    return DataError(f"dataset {dataset!r} not found under {root}: expected {expected}{partial}; {fix}")
