"""Fixtures for the attack tests: a small CNN and MLP trained for a few seconds on sklearn's digits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn


@dataclass(frozen=True)
class Digits:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def small_cnn() -> nn.Module:
    """Conv-BN-ReLU x2 + linear head on 1x8x8 images (BatchNorm and Dropout make eval mode matter)."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Flatten(), nn.Dropout(0.1), nn.Linear(16 * 4 * 4, 10),
    )


def small_mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def train(model: nn.Module, data: Digits, epochs: int, seed: int) -> nn.Module:
    """Adam on the training split; forks the global RNG so tests see an untouched global state."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        n = data.x_train.shape[0]
        for _ in range(epochs):
            for idx in torch.randperm(n).split(128):
                loss = nn.functional.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    for p in model.parameters():
        p.grad = None
    return model.eval()


@pytest.fixture(scope="session")
def digits() -> Digits:
    bunch = load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(bunch.target, dtype=torch.long)
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))
    x, y = x[order], y[order]
    return Digits(x[:1400], y[:1400], x[1400:], y[1400:])


def seeded_and_trained(factory: Callable[[], nn.Module], digits: Digits, epochs: int, seed: int) -> nn.Module:
    """``factory()`` initialised under ``seed`` (without touching the global RNG), then trained."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = factory()
    return train(model, digits, epochs=epochs, seed=seed)


@pytest.fixture(scope="session")
def trained_cnn(digits: Digits) -> nn.Module:
    return seeded_and_trained(small_cnn, digits, epochs=6, seed=0)


@pytest.fixture(scope="session")
def trained_mlp(digits: Digits) -> nn.Module:
    return seeded_and_trained(small_mlp, digits, epochs=15, seed=1)


@pytest.fixture
def fresh_cnn() -> nn.Module:
    """An untrained small CNN (a new one per test, so a test may change its modes)."""
    with torch.random.fork_rng():
        torch.manual_seed(2)
        return small_cnn()


@pytest.fixture(scope="session")
def batch(digits: Digits) -> tuple[torch.Tensor, torch.Tensor]:
    """120 test images and labels."""
    return digits.x_test[:120], digits.y_test[:120]
