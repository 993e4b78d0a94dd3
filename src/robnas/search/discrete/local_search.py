"""Local search (White, Nolen & Savani, "Exploring the loss landscape in neural architecture
search", UAI 2021 -- the "local search is state of the art for NAS benchmarks" paper).

The variant, with the defaults of the authors' naszilla code (``local_search``):

1. Start: evaluate ``initial`` (10) random architectures and start from the best.
2. Iterate: visit the neighbours of the current architecture (``space.neighbours``: one edit;
   for nb201 the 24 single-op changes) in random order. With ``first_improvement`` (default) the
   search moves to the first neighbour that is strictly better; otherwise the whole neighbourhood
   is evaluated (as one batch) and the search moves to its best member if that is better.
3. Restart: at a local optimum (no neighbour better), go back to step 1 with new random archs.

Departures from naszilla: a neighbour equivalent to an already evaluated architecture is not
evaluated again but *is* compared through its known value (naszilla skips it entirely, so a
better, already-seen neighbour could not be moved to); neighbours that share a key are visited once.
"""

from __future__ import annotations

from typing import ClassVar

from robnas.search.discrete.strategy import Param, Search, Strategy, Values, boolean, count, register_strategy


@register_strategy("ls")
class LocalSearch(Strategy):
    params_spec: ClassVar[dict[str, Param]] = {
        "initial": Param(10, count, "random architectures per (re)start; the best one is the start"),
        "first_improvement": Param(True, boolean, "move to the first improving neighbour (else the best one)"),
    }

    def _search(self) -> Search:
        while True:
            reserved: set[str] = set()
            starts = [a for a in (self.sample_new(reserved) for _ in range(self.params["initial"])) if a is not None]
            if not starts:
                return  # the space is exhausted
            values = yield starts
            current, current_value = min(zip(starts, values), key=lambda item: self.score(item[1]))
            while True:
                moved = yield from self._step(current, current_value)
                if moved is None:
                    break  # local optimum: restart
                current, current_value = moved

    def _step(self, current: str, current_value: Values) -> Search:
        """One move from ``current``: the better neighbour and its values, or None at a local optimum."""
        neighbours = self._distinct_neighbours(current)
        self.rng.shuffle(neighbours)
        best: tuple[str, Values] | None = None
        if self.params["first_improvement"]:
            for arch in neighbours:
                values = self.values(arch)
                if values is None:
                    (values,) = yield [arch]
                if self.score(values) < self.score(current_value):
                    return arch, values
            return None
        reserved: set[str] = set()
        new = [a for a in neighbours if self.values(a) is None and self.take_new(a, reserved)]
        if new:
            yield new  # told values are then known through self.values
        for arch in neighbours:
            values = self.values(arch)
            if values is not None and (best is None or self.score(values) < self.score(best[1])):
                best = arch, values
        if best is not None and self.score(best[1]) < self.score(current_value):
            return best
        return None

    def _distinct_neighbours(self, arch: str) -> list[str]:
        """Neighbours with a key different from ``arch``'s, one per key, in the space's order."""
        seen = {self.space.key(arch)}
        out = []
        for n in self.space.neighbours(arch):
            key = self.space.key(n)
            if key not in seen:
                seen.add(key)
                out.append(n)
        return out
