"""Device selection: ``--device auto`` uses CUDA when present, else the CPU."""

from __future__ import annotations

import torch

from robnas.errors import InvalidValueError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> cuda if available else cpu; otherwise the named device, checked to exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise InvalidValueError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidValueError(f"device {name!r} requested but CUDA is not available; use --device cpu or auto")
    return device
