"""User-facing errors.

A :class:`RobnasError` carries one line that names the problem and the fix. The CLI prints it
as ``error: <line>`` and exits with status 2; library callers can catch it like any exception.
"""

from __future__ import annotations


class RobnasError(Exception):
    """A problem with the user's input (names, files, parameters), not a bug in robnas."""


class UnknownNameError(RobnasError, ValueError):
    """A registry lookup of a name that is not registered."""


class InvalidValueError(RobnasError, ValueError):
    """A parameter outside its allowed range (negative eps, zero batch size, ...)."""


class ParseError(RobnasError, ValueError):
    """A malformed genotype, architecture or config string."""


class DataError(RobnasError, FileNotFoundError):
    """A dataset that is missing or malformed on disk."""


class CheckpointError(RobnasError):
    """A checkpoint that cannot be read (truncated, corrupt, or written for another model)."""


class TrainingDivergedError(RobnasError):
    """The loss became NaN or infinite."""


class WorkerLostError(RobnasError):
    """A worker process or host died while running a task, even after the task's retry."""
