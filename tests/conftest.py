"""Suite-wide settings.

The tests use tiny networks and tensors, for which intra-op threading only adds synchronisation
cost; on a 2-core machine that is busy with anything else, two busy-waiting OpenMP threads made
the suite ~20x slower. One thread keeps the suite fast and its timings stable.
"""

import torch


def pytest_configure(config):  # noqa: ARG001 (pytest hook signature)
    torch.set_num_threads(1)
