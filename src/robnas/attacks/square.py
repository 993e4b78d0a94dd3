"""Square Attack (Andriushchenko et al., ECCV 2020): score-based random search, Linf and L2, no gradients.

The attack only reads logits. It minimises the margin ``z_y - max_{k != y} z_k`` by proposing
random square-shaped changes and keeping a proposal when it lowers the margin; a point is done
as soon as the model misclassifies it. The side of the square follows ``p``, the fraction of the
image's pixels a square covers: ``p_init`` (0.8, AutoAttack's standard value) halved at
iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000. As in the official code
(``SquareAttack(resc_schedule=True)``, its default) the iteration is first rescaled to a
10000-query budget, ``int(i / queries * 10000)``, so a short budget still walks the whole schedule;
``rescale_schedule=False`` uses the iteration itself, as AutoAttack's standard version does.

Linf: start at ``x + eps * s`` with one random sign ``s`` per channel and column (vertical
stripes); a step moves every channel of a window of side ``round(sqrt(p * H * W))`` to
``+-eps`` of the clean pixel (one random sign per channel), clipped to the ball and [0, 1].

L2: start with a grid of ``H // 5``-sided windows, each filled with the official code's pattern
``eta`` (two halves of opposite sign, each peaked at its centre) times a random sign per channel,
scaled to length eps. A step (odd side >= 3) takes two random windows: the perturbation in the
second is removed and its mass, plus the budget still unused, is moved into the first, where the
old content (normalised) plus a fresh ``eta`` with random signs is rescaled per channel to
``sqrt((eps^2 - ||delta||^2) / C + ||delta over both windows||^2)``; the whole perturbation is then
rescaled to length eps and clipped to [0, 1].

Departures from the official code (``pyautoattack/square.py``):

* windows, signs and ``eta``'s orientation are drawn per sample, not once per batch, so a
  sample's trajectory does not depend on which samples share its batch (they leave as they break).
  Each sample's search follows the same distribution; only the correlation between samples goes,
  so a batch's robust accuracy varies less from seed to seed than the official code's;
* the official loop makes ``queries`` iterations after the initial query; we make ``queries - 1``,
  so ``queries`` is the whole per-point budget (plus one clean screening query in evaluation mode);
* success is the argmax differing from the label (the official code uses margin <= 0, which
  counts an exact tie as success);
* for images smaller than 5 pixels the L2 start grid uses 1-pixel windows from the corner (the
  official code divides by zero there); for non-square images each axis gets its own offset;
* ``early_stop=False`` also attacks points misclassified when clean (the official code and
  evaluation mode leave them as they are); a fooled point is never searched further in either mode.

Offsets are drawn in ``[0, H - side)`` as in the official code, so the last offset (for 1-pixel
windows, the last row and column) is never drawn; we keep this for comparable numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from robnas.attacks.base import Attack, points_to_search
from robnas.attacks.checks import check_fraction, check_images
from robnas.attacks.gradient import QueryCounter, forward
from robnas.attacks.outcome import Outcome
from robnas.attacks.registry import register_attack
from robnas.attacks.state import SampleState
from robnas.attacks.threat import l2_norm, project, project_start, unit
from robnas.checks import flag, positive_int
from robnas.rng import uniform

_HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)
# The official schedule is written for this many queries; shorter budgets are rescaled onto it.
_SCHEDULE_QUERIES = 10000
# Official constant: added to window norms before dividing by them.
_TINY = 1e-12


def square_fraction(p_init: float, iteration: int, queries: int | None = None) -> float:
    """The fraction of pixels a window covers at ``iteration`` (0-based): ``p_init`` halved at each
    threshold passed; with ``queries`` the iteration is first rescaled to a 10000-query budget."""
    if queries is not None:
        iteration = int(iteration / queries * _SCHEDULE_QUERIES)
    return p_init / 2 ** sum(iteration > t for t in _HALVINGS)


def margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``z_y - max_{k != y} z_k``; the true class is masked with -inf, so negative logits are handled."""
    true = logits.gather(1, y[:, None]).squeeze(1)
    others = logits.scatter(1, y[:, None], float("-inf"))
    return true - others.amax(1)


def random_signs(shape: tuple[int, ...], gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return torch.where(uniform(shape, gen, like) < 0.5, -1.0, 1.0).to(like.dtype)


def random_offsets(m: int, extent: int, side: int, gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """Per-sample window offsets in ``[0, extent - side)`` (0 when the window fills the axis)."""
    span = max(extent - side, 1)
    return torch.randint(span, (m,), generator=gen, device=gen.device).to(like.device)


def window_mask(top: torch.Tensor, left: torch.Tensor, side: int, h: int, w: int) -> torch.Tensor:
    """Boolean ``[m, 1, H, W]``: True inside each sample's ``side x side`` window."""
    rows = torch.arange(h, device=top.device)
    cols = torch.arange(w, device=top.device)
    in_rows = (rows[None] >= top[:, None]) & (rows[None] < (top + side)[:, None])
    in_cols = (cols[None] >= left[:, None]) & (cols[None] < (left + side)[:, None])
    return (in_rows[:, :, None] & in_cols[:, None, :])[:, None]


def _peaked_block(a: int, b: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``a x b`` block whose value at Chebyshev distance ``d`` from the centre ``(a//2, b//2)`` is
    ``sum_{c >= d} 1/(c+1)^2`` (nested boxes of weight ``1/(c+1)^2``), normalised to unit L2 norm."""
    if a == 0:
        return torch.zeros(0, b, device=device, dtype=dtype)
    rows = (torch.arange(a, device=device) - a // 2).abs()
    cols = (torch.arange(b, device=device) - b // 2).abs()
    distance = torch.max(rows[:, None], cols[None, :])
    weights = 1.0 / (torch.arange(max(a // 2, b // 2) + 1, device=device, dtype=dtype) + 1) ** 2
    tail = weights.flip(0).cumsum(0).flip(0)  # tail[d] = sum of weights[c] for c >= d
    block = tail[distance]
    return block / block.pow(2).sum().sqrt()


@lru_cache(maxsize=64)
def eta(side: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The official L2 window pattern: upper half ``+block``, lower half ``-block``, unit L2 norm
    (cached: the same few sides recur at every iteration; callers must not modify it)."""
    pattern = torch.cat([_peaked_block(side // 2, side, device, dtype),
                         -_peaked_block(side - side // 2, side, device, dtype)])
    return pattern / pattern.pow(2).sum().sqrt()


def random_eta(shape: tuple[int, ...], side: int, gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """``eta(side)`` for every entry of ``shape``, transposed with probability 1/2: ``[*shape, side, side]``."""
    pattern = eta(side, like.device, like.dtype)
    flip = (uniform(shape, gen, like) < 0.5)[..., None, None]
    return torch.where(flip, pattern.T, pattern)


def selector(offset: torch.Tensor, side: int, extent: int, like: torch.Tensor) -> torch.Tensor:
    """One-hot ``[m, extent, side]``: entry ``(i, r, j)`` is 1 where ``r == offset[i] + j``.

    A window is a pair of selectors ``R`` (rows) and ``C`` (columns): ``R @ P @ C^T`` places a
    ``side x side`` pattern ``P`` at the window, and ``R 1 1^T C^T`` is the window's mask. Two
    small batched matrix products are much cheaper than gathering with per-sample indices.
    """
    positions = torch.arange(extent, device=offset.device)[None, :, None] - offset[:, None, None]
    return (positions == torch.arange(side, device=offset.device)[None, None, :]).to(like.dtype)


def linf_start(x: torch.Tensor, eps: float, gen: torch.Generator) -> torch.Tensor:
    """Vertical stripes: ``x + eps * s``, one random sign per (sample, channel, column)."""
    n, c, _, w = x.shape
    return (x + eps * random_signs((n, c, 1, w), gen, x)).clamp(0.0, 1.0)


def l2_start(x: torch.Tensor, eps: float, gen: torch.Generator) -> torch.Tensor:
    """A centred grid of ``H // 5``-sided windows, each ``eta`` times a random sign per channel, scaled to eps."""
    n, c, h, w = x.shape
    side = max(h // 5, 1)
    grid_h, grid_w = h // side, w // side
    tiles = random_eta((n, 1, grid_h, grid_w), side, gen, x) * random_signs((n, c, grid_h, grid_w, 1, 1), gen, x)
    tiled = tiles.permute(0, 1, 2, 4, 3, 5).reshape(n, c, grid_h * side, grid_w * side)
    delta = torch.zeros_like(x)
    top, left = max((h - 5 * side) // 2, 0), max((w - 5 * side) // 2, 0)
    rows, cols = min(grid_h * side, h - top), min(grid_w * side, w - left)  # windows overhanging the image are cut
    delta[:, :, top:top + rows, left:left + cols] = tiled[:, :, :rows, :cols]
    return (x + eps * unit(delta, "L2")).clamp(0.0, 1.0)


def linf_candidate(x: torch.Tensor, x_best: torch.Tensor, eps: float, p: float, gen: torch.Generator) -> torch.Tensor:
    """One Linf proposal per sample: a window moved to ``+-eps`` of the clean image (sign per channel)."""
    m, c, h, w = x.shape
    side = min(max(int(round(math.sqrt(p * h * w))), 1), h, w)
    top, left = random_offsets(m, h, side, gen, x), random_offsets(m, w, side, gen, x)
    window = window_mask(top, left, side, h, w).to(x.dtype)
    step = 2 * eps * random_signs((m, c, 1, 1), gen, x) * window
    return project(x_best + step, x, eps, "Linf")


def l2_candidate(x: torch.Tensor, x_best: torch.Tensor, eps: float, p: float, gen: torch.Generator) -> torch.Tensor:
    """One L2 proposal per sample: two random windows, a random ``eta`` orientation and channel signs."""
    m, c, h, w = x.shape
    side = max(int(round(math.sqrt(p * h * w))), 3)
    side = min(side + 1 - side % 2, h, w)  # odd, as the official code
    first = (random_offsets(m, h, side, gen, x), random_offsets(m, w, side, gen, x))
    second = (random_offsets(m, h, side, gen, x), random_offsets(m, w, side, gen, x))
    return l2_step(x, x_best, eps, first, second, random_eta((m,), side, gen, x), random_signs((m, c, 1, 1), gen, x))


def l2_step(x: torch.Tensor, x_best: torch.Tensor, eps: float, first: tuple[torch.Tensor, torch.Tensor],
            second: tuple[torch.Tensor, torch.Tensor], patterns: torch.Tensor, signs: torch.Tensor) -> torch.Tensor:
    """The L2 update for given windows (``(top, left)`` per sample, side ``patterns.shape[-1]``):
    window 2 is emptied into window 1, which gets ``patterns * signs`` plus its old content."""
    c, h, w = x.shape[1:]
    side = patterns.shape[-1]
    delta = x_best - x
    rows, cols = selector(first[0], side, h, x), selector(first[1], side, w, x)
    inside = (rows.sum(-1)[:, :, None] * cols.sum(-1)[:, None, :])[:, None]  # float masks [m, 1, H, W]
    both = torch.maximum(inside, window_mask(second[0], second[1], side, h, w).to(x.dtype))
    # Window sums are taken over the whole image with the other pixels masked to zero.
    old = delta * inside
    old_unit = old / (_TINY + _channel_norm(old))
    mass_in_windows = _channel_norm(delta * both)
    unused = (eps ** 2 - l2_norm(delta) ** 2).clamp(min=0.0)
    fresh = (rows @ patterns @ cols.transpose(1, 2))[:, None] * signs + old_unit
    fresh = fresh / (_TINY + _channel_norm(fresh)) * (unused / c + mass_in_windows ** 2).sqrt()
    # Window 2 is emptied, window 1 replaced (fresh is exactly zero outside window 1).
    delta = delta * (1.0 - both) + fresh
    return (x + eps * unit(delta, "L2")).clamp(0.0, 1.0)


def _channel_norm(v: torch.Tensor) -> torch.Tensor:
    """Per-sample, per-channel L2 norm over the spatial axes, ``[m, C, 1, 1]``."""
    return v.pow(2).sum((-2, -1), keepdim=True).sqrt()


@dataclass
class _SquareState(SampleState):
    x: torch.Tensor
    y: torch.Tensor
    x_best: torch.Tensor
    margin: torch.Tensor
    logits: torch.Tensor


@register_attack("square")
class Square(Attack):
    """Square Attack with a budget of ``queries`` model evaluations per point (Linf or L2): score-based, black-box."""
    title = "Square"
    kind = "black-box"
    draws_random = True

    def __init__(self, *, eps: float = 8 / 255, norm: str = "Linf", queries: int = 5000, p_init: float = 0.8,
                 rescale_schedule: bool = True, seed: int = 0, early_stop: bool = True,
                 batch_size: int | None = None) -> None:
        super().__init__(eps=eps, norm=norm, seed=seed, early_stop=early_stop, batch_size=batch_size)
        self.queries = positive_int(f"attack {self.name!r}", "queries", queries)
        self.p_init = check_fraction(self.name, "p_init", p_init, include_one=True)
        self.rescale_schedule = flag(f"attack {self.name!r}", "rescale_schedule", rescale_schedule)


    def fraction(self, iteration: int) -> float:
        """``p`` at a 0-based iteration of the search."""
        return square_fraction(self.p_init, iteration, self.queries if self.rescale_schedule else None)

    def _attack(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_init: torch.Tensor | None,
                gen: torch.Generator, outcome: Outcome, counter: QueryCounter, need_logits: bool) -> None:
        check_images(self.name, x)
        active = points_to_search(model, x, y, outcome, counter, self.early_stop)
        if active.numel() == 0:
            return
        x_a, y_a = x[active], y[active]
        if x_init is not None:
            start = project_start(x_init[active], x_a, self.eps, self.norm)
        else:
            start = (linf_start if self.norm == "Linf" else l2_start)(x_a, self.eps, gen)
        logits = forward(model, start, counter)
        s = _SquareState(idx=active, x=x_a, y=y_a, x_best=start, margin=margin(logits, y_a), logits=logits)
        _drop_fooled(s, outcome)
        propose = linf_candidate if self.norm == "Linf" else l2_candidate
        for i in range(self.queries - 1):
            if len(s) == 0:
                return
            candidate = propose(s.x, s.x_best, self.eps, self.fraction(i), gen)
            logits = _candidate_logits(model, candidate, s, counter)
            new_margin = margin(logits, s.y)
            better = new_margin < s.margin
            s.x_best = torch.where(better.view(-1, 1, 1, 1), candidate, s.x_best)
            s.margin = torch.where(better, new_margin, s.margin)
            s.logits = torch.where(better[:, None], logits, s.logits)
            _drop_fooled(s, outcome)
        if len(s):
            outcome.offer(s.idx, s.x_best, s.logits, F.cross_entropy(s.logits, s.y, reduction="none"))


def _candidate_logits(model: nn.Module, candidate: torch.Tensor, s: _SquareState,
                      counter: QueryCounter) -> torch.Tensor:
    """The model's logits at each candidate; a candidate equal to its point's ``x_best`` is not queried.

    Why: late in a long search the window is a pixel or two and its random sign is often the one the
    best point already has (44% of the Jung grid's 5000-query searches on a digits network, 23% of the
    digits benchmark's 100-query ones), so the proposal is the best point itself. Its logits are
    ``s.logits`` (the logits ``x_best`` was accepted with), its margin equals ``s.margin`` and the
    proposal is rejected, as a query would have it up to float rounding between batches. The draws
    are unchanged, so every later proposal is the same; only real model evaluations are counted.
    """
    moved = (candidate != s.x_best).flatten(1).any(1)
    if bool(moved.all()):
        return forward(model, candidate, counter)
    logits = s.logits.clone()
    if bool(moved.any()):
        logits[moved] = forward(model, candidate[moved], counter)
    return logits


def _drop_fooled(s: _SquareState, outcome: Outcome) -> None:
    """Offer the points the model now misclassifies and stop searching them."""
    fooled = s.logits.argmax(1) != s.y
    if fooled.any():
        outcome.offer(s.idx[fooled], s.x_best[fooled], s.logits[fooled],
                      F.cross_entropy(s.logits[fooled], s.y[fooled], reduction="none"))
        s.keep(~fooled)
