"""Few-pixel attack by differential evolution (Su, Vargas & Sakurai, IEEE TEVC 2019), the L0 attack of RoCo-NAS.

Threat model: at most ``eps`` pixels (spatial positions) change, each to any value in [0, 1] in
every channel (see :func:`robnas.attacks.threat.project_pixels`). A candidate solution lists ``k``
pixels as ``(row, col, v_1, ..., v_C)``; applying it *sets* those pixels to ``v``. The search
only reads the model's outputs (black-box) and minimises the softmax probability of the true class:

* population: ``population`` candidates (400 in the paper), rows and columns uniform over the
  image, values normal with mean 0.5 and standard deviation 0.5 (the paper's N(128, 127) on the
  0-255 scale), clipped into [0, 1];
* DE/rand/1 mutation with ``F = differential_weight`` (0.5): child ``i`` is
  ``x_r1 + F (x_r2 - x_r3)`` with ``r1, r2, r3`` distinct and different from ``i``; no crossover
  (as in the paper); coordinates are clipped to the image and values into [0, 1];
* greedy replacement: a child replaces its parent when its true-class probability is not higher
  (compared as log-probabilities, which do not saturate at 1.0 in float32);
* ``generations`` rounds (100 in the paper).

Batched: every generation is one model call on all samples x population members. Memory grows
with ``batch_size x population`` images; lower ``batch_size`` for large images.

Evaluation mode (``early_stop=True``): a sample is done as soon as any evaluated candidate is
misclassified (the paper stops untargeted attacks once the true-class probability drops below 5%;
we use AutoAttack's rule, as every robnas attack does). ``early_stop=False``: every sample runs
all generations and keeps the best candidate ever evaluated (misclassified first, then the lowest
true-class probability).

Departures from the paper: coordinates are real numbers floored to a pixel index (the paper does
not say how it rounds); values are clipped to [0, 1] (the paper does not say how out-of-range
values are handled); when two of a candidate's ``k`` entries hit the same pixel the later one wins
(so a candidate may change fewer than ``k`` pixels). An ``x_init`` becomes the first population
member: its ``k`` most changed pixels after projection onto the threat set.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from robnas.attacks.base import Attack, points_to_search
from robnas.attacks.checks import check_images, check_int_at_least, check_number_in, check_pixel_budget
from robnas.attacks.gradient import QueryCounter, forward
from robnas.attacks.outcome import Outcome
from robnas.attacks.registry import register_attack
from robnas.attacks.state import SampleState
from robnas.attacks.threat import project_pixels
from robnas.checks import positive_int
from robnas.rng import normal, uniform

# DE/rand/1 draws three donors other than the member itself.
_DONORS = 3


def distinct_donors(n: int, size: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """``[n, size, 3]`` indices: for every member ``i`` of each of ``n`` populations, three distinct
    members other than ``i``, uniformly (each draw skips the indices already taken)."""
    taken = torch.arange(size, device=device).expand(n, size)[..., None]
    for j in range(_DONORS):
        pick = torch.randint(size - 1 - j, (n, size), generator=gen, device=gen.device).to(device)
        # Map pick in [0, size - 1 - j) onto the indices not taken yet, in increasing order.
        for bound in taken.sort(-1).values.unbind(-1):
            pick = pick + (pick >= bound).long()
        taken = torch.cat([taken, pick[..., None]], -1)
    return taken[..., 1:]


def paint(x: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
    """Images ``[n, P, C, H, W]``: sample ``x[i]`` with the pixels of each of its members set.

    ``members`` is ``[n, P, k, 2 + C]`` (row, col, values). An entry whose pixel a later entry of
    the same member also sets writes to a scratch slot instead, so every written pixel has exactly
    one writer and the result does not depend on the device's scatter order.
    """
    n, size, k, _ = members.shape
    c, h, w = x.shape[1:]
    rows = members[..., 0].floor().clamp(0, h - 1).long()
    cols = members[..., 1].floor().clamp(0, w - 1).long()
    flat = rows * w + cols
    later = torch.ones(k, k, dtype=torch.bool, device=x.device).triu(1)
    shadowed = ((flat[..., :, None] == flat[..., None, :]) & later).any(-1)
    flat = torch.where(shadowed, h * w, flat)
    canvas = torch.cat([x.flatten(2), x.new_zeros(n, c, 1)], 2)[:, None].expand(n, size, c, h * w + 1)
    values = members[..., 2:].transpose(2, 3)
    canvas = canvas.scatter(3, flat[:, :, None, :].expand(n, size, c, k), values)
    return canvas[..., :h * w].reshape(n, size, c, h, w)


@dataclass
class _Population(SampleState):
    x: torch.Tensor
    y: torch.Tensor
    members: torch.Tensor   # [n, P, k, 2 + C]
    fitness: torch.Tensor   # [n, P]: log-probability of the true class at each member (lower is better)


@register_attack("onepixel")
class OnePixel(Attack):
    """Few-pixel differential evolution; ``eps`` is the number of pixels that may change (1 = one-pixel).
    Black-box: it reads the model's probabilities only."""
    title = "One-pixel"
    kind = "black-box"
    draws_random = True
    norms = ("L0",)

    def __init__(self, *, eps: int = 1, norm: str = "L0", population: int = 400, generations: int = 100,
                 differential_weight: float = 0.5, seed: int = 0, early_stop: bool = True,
                 batch_size: int | None = None) -> None:
        pixels = check_pixel_budget(self.name, eps)
        super().__init__(eps=pixels, norm=norm, seed=seed, early_stop=early_stop, batch_size=batch_size)
        self.eps = pixels
        self.population = check_int_at_least(self.name, "population", population, _DONORS + 1,
                                             "DE/rand/1 draws three other members")
        self.generations = positive_int(f"attack {self.name!r}", "generations", generations)
        self.differential_weight = check_number_in(self.name, "differential_weight", differential_weight, 0.0, 2.0)


    def _attack(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_init: torch.Tensor | None,
                gen: torch.Generator, outcome: Outcome, counter: QueryCounter, need_logits: bool) -> None:
        check_images(self.name, x)
        active = points_to_search(model, x, y, outcome, counter, self.early_stop)
        if active.numel() == 0:
            return
        x_a = x[active]
        members = self._initial(x_a, None if x_init is None else x_init[active], gen)
        s = _Population(idx=active, x=x_a, y=y[active], members=members, fitness=x_a.new_zeros(0))
        s.fitness = self._evaluate(model, s, members, outcome, counter)
        for _ in range(self.generations):
            if self.early_stop:
                s.keep(~outcome.fooled[s.idx])  # a sample is done once a candidate fooled the model
            if len(s) == 0:
                return
            children = self._mutate(s.members, s.x.shape[2], s.x.shape[3], gen)
            fitness = self._evaluate(model, s, children, outcome, counter)
            replace = fitness <= s.fitness
            s.members = torch.where(replace[..., None, None], children, s.members)
            s.fitness = torch.where(replace, fitness, s.fitness)

    def _initial(self, x: torch.Tensor, x_init: torch.Tensor | None, gen: torch.Generator) -> torch.Tensor:
        """The paper's random population; an ``x_init`` replaces member 0."""
        n, c, h, w = x.shape
        shape = (n, self.population, self.eps)
        rows = uniform(shape, gen, x, 0.0, float(h))
        cols = uniform(shape, gen, x, 0.0, float(w))
        values = (0.5 + 0.5 * normal((*shape, c), gen, x)).clamp(0.0, 1.0)
        members = torch.cat([rows[..., None], cols[..., None], values], -1)
        if x_init is not None:
            members[:, 0] = self._encode(x, project_pixels(x_init, x, self.eps))
        return members

    def _encode(self, x: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        """``[n, k, 2 + C]``: the ``k`` pixels where ``start`` differs most from ``x`` (pixel centres, values)."""
        n, c, h, w = x.shape
        change = (start - x).abs().amax(1).flatten(1)
        flat = change.topk(min(self.eps, h * w), dim=1).indices
        if flat.shape[1] < self.eps:  # a budget above the image size: repeat the last pixel (it overwrites itself)
            flat = torch.cat([flat, flat[:, -1:].expand(n, self.eps - flat.shape[1])], 1)
        values = start.flatten(2).gather(2, flat[:, None, :].expand(n, c, self.eps)).transpose(1, 2)
        centres = torch.stack([(flat // w).to(x.dtype) + 0.5, (flat % w).to(x.dtype) + 0.5], -1)
        return torch.cat([centres, values], -1)

    def _mutate(self, members: torch.Tensor, h: int, w: int, gen: torch.Generator) -> torch.Tensor:
        """DE/rand/1 without crossover, clipped back into the search box."""
        n, size, k, d = members.shape
        donors = distinct_donors(n, size, gen, members.device)
        pick = [members.gather(1, donors[..., j, None, None].expand(n, size, k, d)) for j in range(_DONORS)]
        child = pick[0] + self.differential_weight * (pick[1] - pick[2])
        return torch.cat([child[..., :1].clamp(0.0, float(h)), child[..., 1:2].clamp(0.0, float(w)),
                          child[..., 2:].clamp(0.0, 1.0)], -1)

    def _evaluate(self, model: nn.Module, s: _Population, members: torch.Tensor, outcome: Outcome,
                  counter: QueryCounter) -> torch.Tensor:
        """Fitness of every member (one model call); offers each sample's best member.

        The fitness is the log of the true-class probability: it orders candidates exactly as the
        probability does, but does not saturate at 1.0 in float32 on confidently classified points.
        """
        n, size = members.shape[:2]
        images = paint(s.x, members)
        logits = forward(model, images.flatten(0, 1), counter).view(n, size, -1)
        fitness = logits.log_softmax(-1).gather(2, s.y[:, None, None].expand(n, size, 1)).squeeze(2)
        # Misclassified members first, then the lowest true-class probability.
        fooled = logits.argmax(-1) != s.y[:, None]
        best = torch.where(fooled.any(1), fitness.masked_fill(~fooled, torch.inf).argmin(1), fitness.argmin(1))
        rows = torch.arange(n, device=best.device)
        best_logits = logits[rows, best]
        outcome.offer(s.idx, images[rows, best], best_logits, F.cross_entropy(best_logits, s.y, reduction="none"))
        return fitness
