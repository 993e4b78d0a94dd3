"""A writer process for the results-database concurrency tests: ``python -m tests.store.db_writer DB NAME N``.

Writes N evaluations (keys shared with the other writers, so they contend for the same rows), one
transaction each; N = 0 writes forever (the kill -9 test).
"""

from __future__ import annotations

import itertools
import sys

from robnas.store.results_db import ResultsDB, Slot

SLOT = Slot("nb201", "digits", '{"epochs":1}', 0)


def main(path: str, name: str, n: int) -> None:
    db = ResultsDB(path)
    for i in itertools.count() if n == 0 else range(n):
        key = f"k{i}"
        db.start(SLOT, key, f"arch-{i}", run=name)
        db.finish(SLOT, key, f"arch-{i}", {"clean_error": float(i), "writer": float(len(name))}, seconds=0.01,
                  worker=name, run=name)
        db.add_pending(SLOT, [(f"{name}-own{i}", "own")], run=name)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
