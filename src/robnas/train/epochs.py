"""The one resumable epoch loop: training, differentiable search and every later epoch-based job use it.

After every epoch the loop writes ONE checkpoint atomically: the caller's state (weights, optimisers,
...) plus what the loop itself owns -- the epoch reached, the history of epoch records, the global
RNG (CPU and CUDA), the caller's named generators (data order) and a fingerprint of what must not
change between a run and its resumption. Only then is the epoch's line appended to
``metrics.jsonl`` and the log. The checkpoint is the truth: on ``--resume`` the metrics file is
rewritten from its history, so a ``kill -9`` between the two writes (or during either: both are
atomic) loses at most the epoch that was running. Schedules are functions of the epoch, so a
resumed loop lands on exactly the values an uninterrupted one would.

Data-parallel runs (:mod:`robnas.distributed`): every rank runs the loop; only rank 0 reads and
writes the checkpoint, the metrics and the log (the others receive the restored state from it, so
hosts need no shared file system). The checkpoint does not depend on the world size: the caller's
generators advance identically on every rank, and each rank reseeds its global RNG (drop-path,
dropout) at every epoch from ``(seed, epoch, rank)`` instead of carrying it, so a checkpoint made
by N processes resumes on M.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

import robnas.distributed as distributed
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
    ``seed`` seeds the per-rank global RNG of data-parallel runs (unused in a world of one).
    """

    def __init__(self, run: RunDir, checkpoint: str, epochs: int, device: torch.device, *,
                 fingerprint: Any, resume: bool, quiet: bool = False, desc: str = "train",
                 generators: dict[str, torch.Generator] | None = None, seed: int = 0,
                 mismatch: str = "was written by a different run; use a new --name or drop --resume",
                 save: bool = True) -> None:
        self.run, self.path, self.epochs, self.device = run, run.checkpoints / checkpoint, epochs, device
        self.world = distributed.current()
        self.fingerprint, self.quiet, self.desc, self.seed = fingerprint, quiet or not self.world.is_main, desc, seed
        self.generators = dict(generators or {})
        self.save = save  # False: no checkpoint at all (a job that is never resumed, e.g. a benchmark candidate)
        self.start, self.history, self._spent = 0, [], 0.0
        self.restored: dict[str, Any] | None = None
        if resume:
            self._restore(mismatch)
        self._started = time.perf_counter()
        self._bar: Any = None

    def _read(self) -> dict[str, Any] | None:
        """The checkpoint (None if there is none yet): rank 0 reads it, every other rank receives it."""
        if not self.world.enabled:
            return load_checkpoint(self.path, self.device) if self.path.exists() else None
        state = load_checkpoint(self.path, "cpu") if self.world.is_main and self.path.exists() else None
        return distributed.broadcast_object(state)

    def _restore(self, mismatch: str) -> None:
        state = self._read()
        if state is None:
            return
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
        if self.world.is_main:
            self.run.rewrite_metrics(self.history)
            self.run.log(f"resuming from {self.path} after epoch {self.start}/{self.epochs}")

    @property
    def seconds(self) -> float:
        """Wall time over this and earlier invocations."""
        return self._spent + time.perf_counter() - self._started

    def __iter__(self) -> Iterator[int]:
        self._bar = tqdm(range(self.start, self.epochs), desc=self.desc, unit="epoch", initial=self.start,
                         total=self.epochs, leave=False, disable=self.quiet)
        for epoch in self._bar:
            if self.world.enabled:
                # Ranks must not share dropout / drop-path masks, and the checkpoint must not carry per-rank state.
                torch.manual_seed(distributed.rank_seed(self.seed * 10_007 + epoch))
            yield epoch

    def set_postfix(self, **values: Any) -> None:
        if self._bar is not None:
            self._bar.set_postfix(**values)

    def end_epoch(self, record: dict[str, Any], state: dict[str, Any]) -> Path:
        """Checkpoint ``state`` with the loop's own fields, then append ``record`` to the metrics and log
        (rank 0 only: the other ranks keep the history and write nothing)."""
        self.history.append(record)
        epoch = int(record["epoch"])
        if not self.world.is_main:
            return self.path
        payload = {**state, "epoch": epoch, "epochs": self.epochs, "complete": epoch == self.epochs,
                   "history": self.history, "seconds": self.seconds, "fingerprint": self.fingerprint,
                   "torch_rng": torch.get_rng_state(),
                   "generators": {name: gen.get_state() for name, gen in self.generators.items()}}
        if self.device.type == "cuda":
            payload["cuda_rng"] = torch.cuda.get_rng_state()
        if self.save:
            save_checkpoint(self.path, payload)
        self.run.append_metrics(record)
        self.run.log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()
                              if not isinstance(v, (dict, list))))
        return self.path
