"""NSGA-II (Deb et al. 2002) through pymoo's ask/tell interface, as RoCo-NAS / NSGA-Net use it.

The genome is the space's integer vector (``space.to_vector`` / ``from_vector`` within
``vector_bounds``). Operators, as listed for RoCo-NAS: binary tournament (pymoo's NSGA-II
comparison: dominance, then crowding distance), two-point crossover (probability
``crossover_prob``, pymoo's 0.9), bit-flip mutation for binary genomes (the macro space) or, for
other integer genomes, a gene reset to a different value in its bounds (the categorical analogue
of a bit flip), each gene with probability 1/n_genes; rank-and-crowding survival.

Duplicates are eliminated by **canonical key**, not by genome: an offspring whose key is already
in the batch, the population or *anywhere in the search so far* is re-mated (pymoo retries up to
100 matings); if no new offspring can be made, the search stops (``finished``).

Defaults are RoCo-NAS's Table II: population 40, offspring 40, 20 generations. pymoo counts the
initial population as generation 1, so 20 generations are 40 + 19 x 40 = 800 evaluations.
``best()`` is the non-dominated set of *every* architecture evaluated (at least as good as the
final population's first front). A failed evaluation (non-finite value) is given objective values
of 1e30 for pymoo's ranking, so it survives only while nothing else does.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.duplicate import DuplicateElimination
from pymoo.core.evaluator import Evaluator
from pymoo.core.mutation import Mutation
from pymoo.core.problem import Problem
from pymoo.core.sampling import Sampling
from pymoo.operators.crossover.pntx import TwoPointCrossover
from pymoo.operators.mutation.bitflip import BitflipMutation
from pymoo.problems.static import StaticProblem

from robnas.errors import InvalidValueError
from robnas.search.discrete.strategy import (
    Param,
    Search,
    Strategy,
    count,
    probability,
    register_strategy,
)

#: pymoo ranks with finite numbers; a failed evaluation gets this in every objective.
_FAILED = 1e30


@register_strategy("nsga2")
class NSGA2Search(Strategy):
    multi_objective: ClassVar[bool] = True
    params_spec: ClassVar[dict[str, Param]] = {
        "population_size": Param(40, count, "population size (RoCo-NAS: 40)"),
        "offspring": Param(40, count, "offspring per generation (RoCo-NAS: 40)"),
        "generations": Param(20, count, "generations, the initial population being the first (RoCo-NAS: 20)"),
        "crossover_prob": Param(0.9, probability, "probability that a mating applies two-point crossover"),
    }

    def _check_objective_count(self, count: int) -> None:
        if count not in (2, 3):
            raise InvalidValueError(f"strategy nsga2 optimises 2 or 3 objectives, got {count} "
                                    f"({', '.join(self.objectives)}); for one objective use re, ls or bananas")

    def _search(self) -> Search:
        low, high = self.space.vector_bounds()
        binary = bool(np.all(low == 0) and np.all(high == 1))
        problem = _genome_problem(len(low), len(self.objectives), low, high)
        algorithm = _make_algorithm(self, binary)
        algorithm.setup(problem, termination=("n_gen", self.params["generations"]), seed=self.seed, verbose=False)
        while algorithm.has_next():
            pop = algorithm.ask()
            if pop is None or len(pop) == 0:
                return  # no new offspring could be made
            archs = [self._decode(x) for x in pop.get("X")]
            values = yield archs
            F = np.array([[v if np.isfinite(v) else _FAILED for v in row] for row in values], dtype=float)
            Evaluator().eval(StaticProblem(problem, F=F), pop)
            algorithm.tell(infills=pop)

    def _decode(self, x: np.ndarray) -> str:
        return self.space.from_vector(np.asarray(x).astype(np.int64))


def _genome_problem(n_var: int, n_obj: int, low: np.ndarray, high: np.ndarray) -> Any:
    # Evaluation happens outside pymoo (ask/tell): the problem only describes the genome.
    return Problem(n_var=n_var, n_obj=n_obj, xl=low.astype(float), xu=high.astype(float), vtype=int)


def _make_algorithm(strategy: NSGA2Search, binary: bool) -> Any:
    space = strategy.space

    class SpaceSampling(Sampling):
        """The initial population: uniform samples of the space with distinct, new keys."""

        def _do(self, problem: Any, n_samples: int, random_state: Any = None, **kwargs: Any) -> np.ndarray:
            reserved: set[str] = set()
            archs = [a for a in (strategy.sample_new(reserved) for _ in range(n_samples)) if a is not None]
            X = np.array([space.to_vector(a) for a in archs], dtype=np.int64).reshape(len(archs), problem.n_var)
            return X.astype(bool) if binary else X

    class KeyDuplicates(DuplicateElimination):
        """Duplicates by canonical key, against the batch, ``other`` and everything asked before."""

        def _do(self, pop: Any, other: Any, is_duplicate: np.ndarray) -> np.ndarray:
            seen = set() if other is None else {space.key(strategy._decode(x)) for x in other.get("X")}
            for i, x in enumerate(pop.get("X")):
                key = space.key(strategy._decode(x))
                if key in seen or (other is None and strategy.is_asked(key, is_key=True)):
                    is_duplicate[i] = True
                seen.add(key)
            return is_duplicate

    class GeneReset(Mutation):
        """Each gene with probability 1/n_genes becomes a different value within its bounds."""

        def _do(self, problem: Any, X: np.ndarray, random_state: Any = None, **kwargs: Any) -> np.ndarray:
            X = np.array(X, dtype=np.int64)
            low, high = problem.xl.astype(np.int64), problem.xu.astype(np.int64)
            mutate = random_state.random(X.shape) < self.get_prob_var(problem, size=(len(X), 1))
            for i, j in zip(*np.nonzero(mutate)):
                width = high[j] - low[j]
                if width > 0:  # shift by 1..width (mod the range): uniform over the other values
                    X[i, j] = low[j] + (X[i, j] - low[j] + random_state.integers(1, width + 1)) % (width + 1)
            return X

    return NSGA2(
        pop_size=strategy.params["population_size"],
        n_offsprings=strategy.params["offspring"],
        sampling=SpaceSampling(),
        crossover=TwoPointCrossover(prob=strategy.params["crossover_prob"]),
        mutation=BitflipMutation() if binary else GeneReset(),
        eliminate_duplicates=KeyDuplicates(),
    )
