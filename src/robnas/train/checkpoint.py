"""Checkpoint I/O.

A checkpoint is a dict of tensors and plain values only, so it loads with ``weights_only=True``
(no arbitrary unpickling). The model is rebuilt from its JSON-able ``spec`` and then its weights
are loaded; a file that is truncated, corrupt or for a different architecture gives one line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from robnas.errors import CheckpointError
from robnas.models import model_from_spec
from robnas.store.atomic import atomic_path


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Write ``payload`` atomically: a kill during the write leaves the previous checkpoint intact."""
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | os.PathLike[str], device: torch.device | str = "cpu") -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint {p} does not exist; pass a .pt file written by `robnas train`")
    try:
        payload = torch.load(p, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises many types for truncated/corrupt zip archives
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise CheckpointError(
            f"checkpoint {p} is truncated or corrupt ({reason}); delete it and retrain, or pass another file"
        ) from exc
    if not isinstance(payload, dict) or "model_state" not in payload or "model_spec" not in payload:
        raise CheckpointError(f"checkpoint {p} was not written by robnas (no model_spec/model_state); "
                              "pass a checkpoint from `robnas train`")
    return payload


def load_model(path: str | os.PathLike[str], device: torch.device | str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model described in a checkpoint and load its weights (eval mode)."""
    payload = load_checkpoint(path, device)
    model = model_from_spec(payload["model_spec"])
    try:
        model.load_state_dict(payload["model_state"])
    except RuntimeError as exc:
        raise CheckpointError(
            f"checkpoint {path} does not match the architecture it names ({str(exc).splitlines()[0][:120]}); "
            "it was edited or written by another robnas version"
        ) from exc
    return model.to(device).eval(), payload
