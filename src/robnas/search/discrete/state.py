"""A discrete search's state file (``search_state.json``): what search a run directory holds, and its wall time.

The results database makes a search resumable (completed evaluations are read back, never redone);
this file adds what the database does not know: which search the directory belongs to (so a resume
with other settings is refused instead of mixing two searches) and the wall time earlier invocations
spent (so a wall-time budget counts all of them). The runner saves it after every batch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from robnas.errors import InvalidValueError
from robnas.search.discrete.runner import SearchStats
from robnas.store.atomic import write_json_atomic

STATE_FILE = "search_state.json"


def elapsed_before(run_path: Path, identity: dict[str, Any], resume: bool) -> float:
    """Wall seconds spent by earlier invocations of this search; refuses to resume a different search."""
    path = run_path / STATE_FILE
    if not resume or not path.exists():
        return 0.0
    state = json.loads(path.read_text())
    changed = [k for k, v in identity.items() if state.get("identity", {}).get(k) != v]
    if changed:
        raise InvalidValueError(f"--resume: run {run_path} was a different search ({', '.join(changed)} changed); "
                                "use the same settings or a new --name")
    return float(state.get("wall_seconds", 0.0))


def save_state(run_path: Path, identity: dict[str, Any], stats: SearchStats) -> None:
    """Record the search's identity and the wall time and evaluations so far (after every batch)."""
    write_json_atomic(run_path / STATE_FILE, {"identity": identity, "wall_seconds": stats.wall_seconds,
                                              "evaluations": stats.evaluations})
