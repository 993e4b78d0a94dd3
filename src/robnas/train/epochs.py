"""The one resumable epoch loop: training, differentiable search and every later epoch-based job use it.

After every epoch the loop writes ONE checkpoint atomically: the caller's state (weights, optimisers,
...) plus what the loop itself owns -- the epoch reached, the history of epoch records, the global
RNG (CPU and CUDA), the caller's named generators (data order) and a fingerprint of what must not
change between a run and its resumption. Only then is the epoch's line appended to
``metrics.jsonl`` and the log. The checkpoint is the truth: on ``--resume`` the metrics file is
rewritten from its history, so a ``kill -9`` between the two writes (or during either: both are
atomic) loses at most the epoch that was running. Schedules are functions of the epoch, so a
resumed loop lands on exactly the values an uninterrupted one would.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from robnas.errors import CheckpointError
from robnas.store.run_dir import RunDir
from robnas.train.checkpoint import load_checkpoint, save_checkpoint

# What the loop itself writes into a checkpoint, beside the caller's state.
_OWN_KEYS = ("epoch", "epochs", "complete", "history", "seconds", "fingerprint", "torch_rng", "cuda_rng", "generators")


class EpochLoop:
    """``for epoch in loop: ...; loop.end_epoch(record, state)`` with atomic checkpoints and exact resume.

    ``fingerprint`` is a JSON-able description of the run (model spec, settings, data); resuming a
    checkpoint written with another fingerprint is refused with ``mismatch`` as the message.
    ``generators`` are the caller's explicit generators whose state must survive a resume.
    """

    def __init__(self, run: RunDir, checkpoint: str, epochs: int, device: torch.device, *,
                 fingerprint: Any, resume: bool, quiet: bool = False, desc: str = "train",
                 generators: dict[str, torch.Generator] | None = None,
                 mismatch: str = "was written by a different run; use a new --name or drop --resume") -> None:
        self.run, self.path, self.epochs, self.device = run, run.checkpoints / checkpoint, epochs, device
        self.fingerprint, self.quiet, self.desc = fingerprint, quiet, desc
        self.generators = dict(generators or {})
        self.start, self.history, self._spent = 0, [], 0.0
        self.restored: dict[str, Any] | None = None
        if resume and self.path.exists():
            self._restore(mismatch)
        self._started = time.perf_counter()
        self._bar: Any = None

    def _restore(self, mismatch: str) -> None:
        state = load_checkpoint(self.path, self.device)
        if state.get("fingerprint") != self.fingerprint:
            raise CheckpointError(f"{self.path} {mismatch}")
        for name, gen in self.generators.items():
            gen.set_state(state["generators"][name].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
        if self.device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"].cpu())
        self.start, self.history = int(state["epoch"]), list(state["history"])
        self._spent = float(state.get("seconds", 0.0))
        self.restored = {k: v for k, v in state.items() if k not in _OWN_KEYS}
        self.run.rewrite_metrics(self.history)
        self.run.log(f"resuming from {self.path} after epoch {self.start}/{self.epochs}")

    @property
    def seconds(self) -> float:
        """Wall time over this and earlier invocations."""
        return self._spent + time.perf_counter() - self._started

    def __iter__(self) -> Iterator[int]:
        self._bar = tqdm(range(self.start, self.epochs), desc=self.desc, unit="epoch", initial=self.start,
                         total=self.epochs, leave=False, disable=self.quiet)
        yield from self._bar

    def set_postfix(self, **values: Any) -> None:
        if self._bar is not None:
            self._bar.set_postfix(**values)

    def end_epoch(self, record: dict[str, Any], state: dict[str, Any]) -> Path:
        """Checkpoint ``state`` with the loop's own fields, then append ``record`` to the metrics and log."""
        self.history.append(record)
        epoch = int(record["epoch"])
        payload = {**state, "epoch": epoch, "epochs": self.epochs, "complete": epoch == self.epochs,
                   "history": self.history, "seconds": self.seconds, "fingerprint": self.fingerprint,
                   "torch_rng": torch.get_rng_state(),
                   "generators": {name: gen.get_state() for name, gen in self.generators.items()}}
        if self.device.type == "cuda":
            payload["cuda_rng"] = torch.cuda.get_rng_state()
        save_checkpoint(self.path, payload)
        self.run.append_metrics(record)
        self.run.log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()
                              if not isinstance(v, (dict, list))))
        return self.path
