"""Shared helpers for the model tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def single_thread() -> Iterator[None]:
    """Run the tiny networks on one thread.

    Intra-op parallelism only adds synchronisation cost for these tiny tensors, and on a busy
    2-core machine it made the suite ~20x slower; the previous setting is restored afterwards.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
