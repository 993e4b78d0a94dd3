"""Runs several ``robnas`` commands in one process, as ``torchrun ... driver.py PLAN.json`` does on every rank.

One launch serves many scenarios (a torchrun start-up costs seconds on the 2-core machine). The plan
is a JSON list of ``{"argv": [...], "stop_after_epoch": k | null, "fail_on_rank": r | null}``:
``stop_after_epoch`` interrupts the run (as Ctrl-C would) once epoch k is checkpointed, to make a
checkpoint to resume; ``fail_on_rank`` makes that rank raise in its second training step.
The exit status is the first non-zero status of the commands.
"""

from __future__ import annotations

import json
import os
import sys
from unittest import mock

from robnas.cli import main
from robnas.train import trainer
from robnas.train.epochs import EpochLoop


def _run(entry: dict) -> int:
    patches = []
    stop = entry.get("stop_after_epoch")
    if stop is not None:
        original = EpochLoop.end_epoch

        def end_epoch(self, record, state):
            path = original(self, record, state)
            if record["epoch"] >= stop:
                raise KeyboardInterrupt
            return path

        patches.append(mock.patch.object(EpochLoop, "end_epoch", end_epoch))
    fail = entry.get("fail_on_rank")
    if fail is not None and int(os.environ.get("RANK", "0")) == fail:
        calls = {"n": 0}
        original_loss = trainer._loss

        def failing_loss(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError(f"rank {fail} failed on purpose")
            return original_loss(*args, **kwargs)

        patches.append(mock.patch.object(trainer, "_loss", failing_loss))
    for p in patches:
        p.start()
    try:
        return main(entry["argv"])
    finally:
        for p in patches:
            p.stop()


def run_plan(plan: list[dict]) -> int:
    status = 0
    for entry in plan:
        code = _run(entry)
        if code not in (0, 130):  # 130: interrupted on purpose
            status = status or code
    return status


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as fh:
        sys.exit(run_plan(json.load(fh)))
