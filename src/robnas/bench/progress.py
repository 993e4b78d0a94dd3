"""The progress line of a benchmark build: architectures done, architectures per minute and the ETA."""

from __future__ import annotations

import time
from typing import Any

from tqdm.auto import tqdm


class ArchProgress:
    def __init__(self, total: int, quiet: bool) -> None:
        self.count = 0
        self.failed = 0
        self._started = time.perf_counter()
        self._bar = tqdm(total=total, desc="bench build", unit="arch", disable=quiet, smoothing=0.05)

    def update(self, result: Any = None) -> None:
        self.count += 1
        self.failed += result is not None and result.status != "done"
        minutes = (time.perf_counter() - self._started) / 60
        self._bar.set_postfix_str(f"{self.count / max(minutes, 1e-9):.1f} archs/min"
                                  + (f", {self.failed} failed" if self.failed else ""))
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()
