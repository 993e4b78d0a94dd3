"""BANANAS (White, Neiswanger & Savani, AAAI 2021): Bayesian optimisation with an ensemble of
neural predictors on the path encoding.

Each round:

1. train ``ensemble`` (5) MLPs (:class:`~robnas.search.discrete.predictor.MLPEnsemble`) on every
   evaluated architecture's ``space.encode`` (the path encoding for nb201) -> ``objectives[0]``;
2. make ``candidates`` (100) new architectures by mutating the best evaluated one (``parents`` = 1;
   when its mutations run dry, the next best, up to 5x ``parents`` archs, as naszilla does);
3. score them with the acquisition function over the ensemble's predictions -- independent
   Thompson sampling (``its``, the paper's choice: one normal draw per candidate from the ensemble
   mean and standard deviation) or ``ucb`` (mean - ``ucb_beta`` x std, naszilla's 0.5) -- and ask
   the ``batch_size`` (10, naszilla's k) best as one batch.

The first ``initial`` (10) architectures are random. Defaults are naszilla's ``bananas()``.

Departures from the paper / naszilla (to train in well under a second on <= 200 points, on CPU):

* the MLPs have 3 hidden layers of width 32 (paper: 10 x 20) and take ``steps`` = 200 Adam steps on
  minibatches of 32 (paper: 150 epochs, i.e. ~1000 steps at 200 points), with targets
  standardised (naszilla fits raw validation errors);
* a candidate is ``space.mutate`` (one edit) followed by further edits with probability
  ``extra_edit_prob`` = 1/2 each (geometric, mean 2 edits) -- naszilla's nb201 mutation changes each
  op with probability 1/4 (mean 1.5 edits); the space interface has no per-gene rate;
* candidates already asked (by canonical key) are skipped; if fewer than ``batch_size`` remain,
  random new architectures fill the pool.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from robnas.search.discrete.predictor import MLPEnsemble
from robnas.search.discrete.strategy import (
    Param,
    Search,
    Strategy,
    count,
    non_negative_float,
    one_of,
    positive_float,
    probability,
    register_strategy,
)

#: How many of the best archs (times ``parents``) may be mutated to fill the candidate pool.
_PATIENCE_FACTOR = 5


@register_strategy("bananas")
class Bananas(Strategy):
    params_spec: ClassVar[dict[str, Param]] = {
        "initial": Param(10, count, "random architectures evaluated before the predictor is used"),
        "batch_size": Param(10, count, "architectures per ask (naszilla's k)"),
        "candidates": Param(100, count, "mutated candidates scored by the acquisition per round"),
        "parents": Param(1, count, "best architectures mutated to make the candidates"),
        "extra_edit_prob": Param(0.5, probability, "probability of each further edit of a candidate"),
        "acquisition": Param("its", one_of("its", "ucb"), "independent Thompson sampling or UCB"),
        "ucb_beta": Param(0.5, non_negative_float, "UCB exploration weight on the ensemble std"),
        "ensemble": Param(5, count, "MLP predictors in the ensemble"),
        "hidden_layers": Param(3, count, "hidden layers of every MLP"),
        "width": Param(32, count, "units per hidden layer"),
        "steps": Param(200, count, "Adam steps per training of the ensemble"),
        "train_batch": Param(32, count, "minibatch size of the predictor training"),
        "lr": Param(0.01, positive_float, "Adam learning rate of the predictor"),
    }

    def _search(self) -> Search:
        reserved: set[str] = set()
        first = [a for a in (self.sample_new(reserved) for _ in range(self.params["initial"])) if a is not None]
        if not first:
            return
        yield first
        while True:
            batch = self._select(self._candidates())
            if not batch:
                return
            yield batch

    def _candidates(self) -> list[str]:
        p = self.params
        ranked = [a for a, _ in self.best()]  # evaluated archs, best first
        pool: set[str] = set()
        out: list[str] = []
        for parent in ranked[: p["parents"] * _PATIENCE_FACTOR]:
            if len(out) >= p["candidates"]:
                break
            for _ in range(p["candidates"] // p["parents"]):
                child = self.space.mutate(parent, self.rng)
                while self.rng.random() < p["extra_edit_prob"]:
                    child = self.space.mutate(child, self.rng)
                if self.take_new(child, pool):
                    out.append(child)
        while len(out) < p["batch_size"]:
            arch = self.sample_new(pool)
            if arch is None:
                break
            out.append(arch)
        return out

    def _select(self, candidates: list[str]) -> list[str]:
        """The ``batch_size`` candidates the acquisition function ranks best (lowest)."""
        p = self.params
        if len(candidates) <= p["batch_size"]:
            return candidates
        data = [(a, self.values(a)) for a, _ in self.history]
        data = [(a, v[0]) for a, v in data if v is not None and np.isfinite(v[0])]
        noise = np.random.default_rng(self.rng.getrandbits(63))
        if not data:  # nothing finite to learn from: a random choice
            order = noise.permutation(len(candidates))
        else:
            ensemble = MLPEnsemble(members=p["ensemble"], hidden_layers=p["hidden_layers"], width=p["width"],
                                   steps=p["steps"], batch_size=p["train_batch"], lr=p["lr"])
            x = np.stack([self.space.encode(a) for a, _ in data])
            y = np.array([v for _, v in data])
            ensemble.fit(x, y, torch.Generator().manual_seed(self.rng.getrandbits(63)))
            predictions = ensemble.predict(np.stack([self.space.encode(a) for a in candidates]))
            mean, std = predictions.mean(axis=0), predictions.std(axis=0)
            if p["acquisition"] == "its":
                score = noise.normal(mean, std)
            else:
                score = mean - p["ucb_beta"] * std
            order = np.argsort(score, kind="stable")
        return [candidates[i] for i in order[: p["batch_size"]]]
