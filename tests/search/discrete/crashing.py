"""An evaluator whose first attempt at each architecture waits to be killed (the Ray retry test).

The first call for an architecture writes its process id to ``<marker_dir>/<n>.pid`` and sleeps; the
test kills that process with SIGKILL. A later call (Ray's retry, in another worker) finds the file
and answers at once.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CrashOnceEvaluator:
    marker_dir: str
    objectives: tuple[str, ...] = ("clean_error", "params")

    def budget(self) -> dict:
        return {"evaluator": "crash-once"}

    def __call__(self, arch: str) -> dict[str, float]:
        digest = hashlib.sha256(arch.encode()).hexdigest()[:12]
        marker = Path(self.marker_dir) / f"{digest}.pid"
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(120)  # the test kills this process long before
        value = int(digest, 16) % 1000 / 10
        return {"clean_error": value, "params": float(len(arch))}
