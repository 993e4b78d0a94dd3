"""An ensemble of small MLP regressors, BANANAS' neural predictor, trained as one batched model.

Every member is a ReLU MLP with its own initial weights and its own minibatches; their weights
are stacked along a leading ensemble dimension so that one ``baddbmm`` per layer trains all
members at once (five separate nets would pay PyTorch's per-op overhead five times).

Settings follow BANANAS' ``MetaNeuralnet`` where the time budget allows: Glorot-uniform weights
and zero biases (Keras' defaults), Adam with lr 0.01 and betas (0.9, 0.99), mean absolute error.
The departures (documented in :mod:`robnas.search.discrete.bananas`): 3 hidden layers of width 32
instead of 10 of width 20, a fixed number of Adam steps instead of 150 epochs, targets standardised.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from robnas.errors import InvalidValueError


@contextmanager
def _one_thread() -> Iterator[None]:
    """Tiny matrices: OpenMP fork/join costs more than it saves (see robnas.threads)."""
    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


class _Adam:
    """Adam (Kingma & Ba) on one flat tensor, betas (0.9, 0.99) as BANANAS' Keras code.

    Written out because ``torch.optim``'s first use imports ``torch._dynamo`` (2-5 s here), more
    than all the training of a search round.
    """

    def __init__(self, param: torch.Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.99),
                 eps: float = 1e-7) -> None:  # eps: Keras' default
        self.param, self.lr, self.betas, self.eps = param, lr, betas, eps
        self.m = torch.zeros_like(param)
        self.v = torch.zeros_like(param)
        self.t = 0

    @torch.no_grad()
    def step(self, grad: torch.Tensor) -> None:
        b1, b2 = self.betas
        self.t += 1
        self.m.lerp_(grad, 1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        step = self.lr * math.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
        self.param.addcdiv_(self.m, self.v.sqrt().add_(self.eps), value=-step)


class MLPEnsemble:
    """``members`` MLPs ``in -> width x hidden_layers -> 1``; ``fit`` then ``predict``."""

    def __init__(self, members: int = 5, hidden_layers: int = 3, width: int = 32, steps: int = 200,
                 batch_size: int = 32, lr: float = 0.01) -> None:
        if min(members, hidden_layers, width, steps, batch_size) < 1 or not lr > 0:
            raise InvalidValueError("MLP ensemble sizes, steps and batch size must be >= 1 and lr > 0")
        self.members, self.hidden_layers, self.width = members, hidden_layers, width
        self.steps, self.batch_size, self.lr = steps, batch_size, lr
        self._weights: list[torch.Tensor] = []
        self._biases: list[torch.Tensor] = []
        self._y_mean, self._y_std = 0.0, 1.0

    def fit(self, x: np.ndarray, y: np.ndarray, generator: torch.Generator) -> float:
        """Train from scratch on ``x`` (n, d) and ``y`` (n,); returns the final mean training MAE."""
        if len(x) != len(y) or len(y) == 0:
            raise InvalidValueError(f"MLP ensemble needs as many targets as inputs (>= 1), got {len(x)} and {len(y)}")
        inputs = torch.as_tensor(np.asarray(x, dtype=np.float32))
        targets = torch.as_tensor(np.asarray(y, dtype=np.float32))
        # Standardised targets: one learning rate suits errors in percent and FLOPs alike.
        self._y_mean = float(targets.mean())
        self._y_std = float(targets.std()) if len(targets) > 1 and float(targets.std()) > 0 else 1.0
        targets = (targets - self._y_mean) / self._y_std
        with _one_thread():
            flat = self._init_weights(inputs.shape[1], generator).requires_grad_()
            self._bind(flat)
            adam = _Adam(flat, self.lr)
            n, batch = len(targets), min(self.batch_size, len(targets))
            loss = torch.zeros(())
            for _ in range(self.steps):
                # each member its own minibatch (the ensemble's diversity beyond initialisation)
                index = torch.rand(self.members, n, generator=generator).argsort(dim=1)[:, :batch]
                out = self._forward(inputs[index])
                loss = (out - targets[index]).abs().mean()
                # x members: every member gets the gradient of its own mean error
                (grad,) = torch.autograd.grad(loss * self.members, flat)
                adam.step(grad)
            self._bind(flat.detach())
        return float(loss.detach()) * self._y_std

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions of every member, shape (members, n), in the units of the training targets."""
        if not self._weights:
            raise RuntimeError("MLPEnsemble.predict before fit")
        inputs = torch.as_tensor(np.asarray(x, dtype=np.float32))
        with _one_thread(), torch.no_grad():
            out = self._forward(inputs.expand(self.members, *inputs.shape))
        return out.numpy().astype(np.float64) * self._y_std + self._y_mean

    def _init_weights(self, in_features: int, generator: torch.Generator) -> torch.Tensor:
        """One flat parameter tensor holding every layer's weights and biases (as views).

        A single tensor makes each Adam step a handful of ops instead of a few per layer -- at these
        sizes PyTorch's per-op overhead, not arithmetic, is the cost of training.
        """
        dims = [in_features] + [self.width] * self.hidden_layers + [1]
        shapes = [((self.members, a, b), (self.members, 1, b)) for a, b in zip(dims[:-1], dims[1:])]
        flat = torch.zeros(sum(math.prod(w) + math.prod(b) for w, b in shapes))
        self._weights, self._biases = [], []
        offset = 0
        for (w_shape, b_shape), fan_in, fan_out in zip(shapes, dims[:-1], dims[1:]):
            w = flat[offset:offset + math.prod(w_shape)].view(w_shape)
            offset += w.numel()
            limit = math.sqrt(6.0 / (fan_in + fan_out))  # Glorot uniform; biases stay zero
            w.copy_((torch.rand(w_shape, generator=generator) * 2 - 1) * limit)
            self._weights.append(w)
            self._biases.append(flat[offset:offset + math.prod(b_shape)].view(b_shape))
            offset += math.prod(b_shape)
        return flat

    def _bind(self, flat: torch.Tensor) -> None:
        """Re-take the layer views from ``flat`` (views made before requires_grad carry no graph)."""
        offset = 0
        for i, (w, b) in enumerate(zip(self._weights, self._biases)):
            self._weights[i] = flat[offset:offset + w.numel()].view(w.shape)
            offset += w.numel()
            self._biases[i] = flat[offset:offset + b.numel()].view(b.shape)
            offset += b.numel()

    def _forward(self, h: torch.Tensor) -> torch.Tensor:
        last = len(self._weights) - 1
        for i, (w, b) in enumerate(zip(self._weights, self._biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = torch.relu(h)
        return h.squeeze(-1)
