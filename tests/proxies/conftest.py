"""Shared fixtures: real digits points and tiny NAS-Bench-201 networks (untrained and briefly trained)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from robnas.data import load_dataset
from robnas.models import NormalizedClassifier, create_model

# One convolution of each size, a skip, a pool and a dropped edge.
ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"
EMPTY_ARCH = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"  # the output ignores the input


@pytest.fixture(scope="session")
def digits() -> tuple[torch.Tensor, torch.Tensor, list[float], list[float]]:
    data = load_dataset("digits")
    return data.train.float_images()[:64], data.train.labels[:64], list(data.mean), list(data.std)


def tiny_nb201(digits, arch: str = ARCH, seed: int = 0) -> NormalizedClassifier:
    torch.manual_seed(seed)
    _, _, mean, std = digits
    return create_model("nb201", arch=arch, C=4, N=1, num_classes=10, in_channels=1, mean=mean, std=std)


def briefly_trained(model: NormalizedClassifier, x: torch.Tensor, y: torch.Tensor) -> NormalizedClassifier:
    """A few plain gradient steps in training mode: weights moved and batch-norm running statistics updated.

    (Hand-written steps: torch.optim's first step imports torch._dynamo, ~2 s.)
    """
    model.train()
    params = list(model.parameters())
    for _ in range(5):
        grads = torch.autograd.grad(F.cross_entropy(model(x), y), params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= 0.5 * g
    return model
