"""Certified robustness by zonotope propagation (DeepZ, Singh et al. 2018): a sound lower bound per point.

Why: an attack can only show that a point is NOT robust. Where a bound proves that no point of the
ball changes the prediction, no attack can succeed there, so the point is robust for certain. Plain
interval propagation is useless on standard-trained networks (batch norm with small running
variances widens intervals layer after layer: on the NB201 C=8 digits network it certifies nothing
even at 0.01/255). A zonotope keeps the correlations: every value is ``c + G e`` with ``e`` in
[-1, 1]^K, exact through every affine layer, and a ReLU whose input range crosses zero is replaced
by its tightest parallelogram ``lambda x + mu + mu e_new`` (one new error term per unstable neuron).

How, without a rule per layer type: every operation of the supported networks except ReLU is
affine in eval mode (convolutions, batch norm with running statistics, average pooling, sums of
branches, the ``none`` op's zeros, input normalisation, the classifier), and an affine map sends
points to points. So the network runs unchanged on a batch that holds, for each input, the centre
and the K corner points ``c + g_k``; only its ReLU modules are swapped for a relaxation that reads
``G`` back from the rows, clips, and writes the rows again. New error terms go into K_new spare
generator slots allocated per input up front (branches computed earlier hold zeros there, which is
exact); an input whose unstable neurons overflow them is reported not certified (sound).

Cost: a forward on ``1 + pixels + spare`` rows per input (float64): practical for small inputs
(8x8 digits: 1 + 64 + spare), not for 32x32x3 images. Networks with ReLU written as a function
call (``F.relu``), max pooling or anything else that is not affine are refused or, if the call
is invisible, would make the bound unsound: :func:`certify` checks the model's module types.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from robnas.errors import InvalidValueError

# Module types certify() accepts: affine in eval mode, plus ReLU (relaxed) and containers.
AFFINE = (nn.Conv2d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Identity,
          nn.Flatten, nn.Dropout)
# Containers whose forward only chains or holds their children (exact types: a subclass may override forward).
CONTAINERS = (nn.Sequential, nn.ModuleList)
#: A module class that sets this attribute to True IN ITS OWN BODY promises that its forward only
#: combines its children's outputs affinely (sums, zeros, normalisation by constants); a subclass does
#: not inherit the promise, since it may override forward. robnas's NB201 networks and ops declare it.
AFFINE_COMBINATION = "certify_affine_combination"


def _trusted(module: nn.Module) -> bool:
    cls = type(module)
    return (isinstance(module, (nn.ReLU, *AFFINE)) or cls in CONTAINERS
            or cls.__dict__.get(AFFINE_COMBINATION) is True)


@dataclass(frozen=True)
class Certificate:
    """Per input: whether the prediction is proven constant on the ball, and the proven logit margin."""

    certified: torch.Tensor        # bool [N]
    margin: torch.Tensor           # float [N]: lower bound of logit_y - max_{j != y} logit_j over the ball
    overflow: torch.Tensor         # bool [N]: ran out of spare generators (not certified for that reason)
    unstable: torch.Tensor         # long [N]: ReLU neurons whose input range crossed zero


class _Relaxed(nn.Module):
    """A ReLU on zonotope rows ``[centre, centre + g_1, ..., centre + g_K]`` of each input."""

    def __init__(self, state: "_State") -> None:
        super().__init__()
        self.state = state

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        s = self.state
        shape = rows.shape
        z = rows.reshape(s.inputs, 1 + s.generators, -1)
        centre, gens = z[:, 0], z[:, 1:] - z[:, :1]
        radius = gens.abs().sum(1)
        low, high = centre - radius, centre + radius
        active, unstable = low >= 0, (low < 0) & (high > 0)
        lam = torch.where(active, 1.0, 0.0).to(z.dtype)
        lam = torch.where(unstable, high / (high - low).clamp_min(1e-300), lam)
        mu = torch.where(unstable, -lam * low / 2, torch.zeros_like(low))
        centre_out = lam * centre + mu
        gens_out = gens * lam[:, None]
        # One new error term per unstable neuron, in this input's next spare slots.
        count = unstable.sum(1)
        s.unstable += count
        point, neuron = unstable.nonzero(as_tuple=True)
        rank = torch.cumsum(unstable.long(), 1)[point, neuron] - 1
        slot = s.used[point] + rank
        fits = slot < s.spare
        s.overflow |= torch.zeros_like(s.overflow).index_fill_(0, point[~fits], True)
        gens_out[point[fits], s.pixels + slot[fits], neuron[fits]] = mu[point[fits], neuron[fits]]
        s.used += count
        out = torch.cat([centre_out[:, None], centre_out[:, None] + gens_out], 1)
        return out.reshape(shape)


@dataclass
class _State:
    inputs: int
    pixels: int
    spare: int
    used: torch.Tensor
    overflow: torch.Tensor
    unstable: torch.Tensor

    @property
    def generators(self) -> int:
        return self.pixels + self.spare


def check_certifiable(model: nn.Module) -> None:
    """Refuse (one error line) a model with a module that is not known to be affine or a ReLU."""
    for name, module in model.named_modules():
        if _trusted(module):
            continue
        raise InvalidValueError(f"certify: module {name or 'model'} ({type(module).__name__}) is not known to be "
                                "affine; the zonotope bound supports convolutions, linear layers, batch norm, "
                                "average pooling, sums and ReLU modules")


def relaxed_copy(model: nn.Module, state: _State) -> nn.Module:
    """A float64 eval-mode copy of ``model`` whose ReLU modules are zonotope relaxations."""
    twin = copy.deepcopy(model).double().eval()
    for parent in list(twin.modules()):
        for child_name, child in parent.named_children():
            if isinstance(child, nn.ReLU):
                setattr(parent, child_name, _Relaxed(state))
    return twin


@torch.no_grad()
def certify(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, spare: int = 256,
            batch_size: int = 16) -> Certificate:
    """Prove, per input, that every point of the Linf ball of radius ``eps`` (within [0, 1]) gets label ``y``.

    ``spare``: error terms available per input for unstable ReLUs (more: certifies more, costs more).
    """
    if not eps >= 0:
        raise InvalidValueError(f"certify: eps must be >= 0, got {eps}")
    check_certifiable(model)
    parts = [_certify_chunk(model, x[i:i + batch_size], y[i:i + batch_size], float(eps), spare)
             for i in range(0, x.shape[0], batch_size)]
    return Certificate(*(torch.cat([getattr(p, f) for p in parts]) for f in ("certified", "margin", "overflow",
                                                                            "unstable")))


def _certify_chunk(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, spare: int) -> Certificate:
    n, pixels = x.shape[0], x[0].numel()
    device = x.device
    state = _State(n, pixels, spare, torch.zeros(n, dtype=torch.long, device=device),
                   torch.zeros(n, dtype=torch.bool, device=device), torch.zeros(n, dtype=torch.long, device=device))
    x64 = x.double()
    low, high = (x64 - eps).clamp(0, 1), (x64 + eps).clamp(0, 1)
    centre, half = (low + high) / 2, (high - low) / 2
    gens = torch.zeros(n, pixels + spare, pixels, dtype=torch.float64, device=device)
    gens[:, torch.arange(pixels), torch.arange(pixels)] = half.reshape(n, pixels)
    flat = centre.reshape(n, 1, pixels)
    rows = torch.cat([flat, flat + gens], 1).reshape(n * (1 + pixels + spare), *x.shape[1:])
    out = relaxed_copy(model, state)(rows).reshape(n, 1 + pixels + spare, -1)
    c, g = out[:, 0], out[:, 1:] - out[:, :1]
    y = y.to(device)
    diff_c = c.gather(1, y[:, None]) - c                                   # [n, classes]
    diff_g = g.gather(2, y[:, None, None].expand(-1, g.shape[1], 1)) - g   # [n, K, classes]
    lower = diff_c - diff_g.abs().sum(1)
    lower.scatter_(1, y[:, None], float("inf"))
    margin = lower.min(1).values.float()
    certified = (margin > 0) & ~state.overflow
    return Certificate(certified, margin, state.overflow.clone(), state.unstable.clone())
