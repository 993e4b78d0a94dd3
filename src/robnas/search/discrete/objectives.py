"""Search objectives as small composable pieces: ``parse_objective("robust_error:pgd@8/255")``.

Every objective is minimised and measured on one model: its ``name`` (the canonical spelling, the
metric's name in the results database), whether it ``needs_training`` (FLOPs and parameters do
not, so a search over cost alone trains nothing) and ``compute(model, data) -> float``.

* ``clean_error`` -- top-1 error in percent on the evaluation split;
* ``robust_error:<attack>@<eps>`` -- error in percent under any registered attack at ``eps``, configured
  as the ``[eval]`` attack suite configures it (:class:`robnas.evaluation.SuiteSettings`: the attack's
  radius rules, e.g. PGD's step ``eval.alpha_ratio * eps``, ``eval.steps``, ``eval.norm``, AutoPGD's
  own schedule; ``pgd-20`` spellings), seeded from the evaluation seed;
* ``advset_error`` -- error in percent on a pre-generated adversarial set (RoCo-NAS; the set's
  directory is ``search.discrete.advset``), scored by :func:`robnas.adversarial_sets.evaluate_advset`;
* ``flops`` -- forward FLOPs of one input (multiply-add = 2), ``params`` -- parameter count.

Errors are percentages (0-100), as the objectives looked up in a benchmark in tabular mode
(:mod:`robnas.bench.lookup`: the same names, plus ``corruption_error`` and proxies), so trained
candidates and benchmark lookups speak the same units.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from torch import nn

from robnas.adversarial_sets import evaluate_advset
from robnas.eps import Eps
from robnas.errors import InvalidValueError, ParseError
from robnas.evaluation import SuiteSettings
from robnas.evaluation.settings import EvalConfig
from robnas.metrics import count_flops, count_params
from robnas.registry import Registry
from robnas.train.trainer import clean_accuracy, robust_accuracy

if TYPE_CHECKING:
    from robnas.adversarial_sets import AdvSet
    from robnas.data import Split


@dataclass
class ObjectiveData:
    """What objectives measure a model on."""

    split: "Split"                         # evaluation points (the search's validation split)
    input_shape: tuple[int, int, int]      # (C, H, W) of one image, for FLOPs
    seed: int = 0                          # the evaluation seed (attack random starts)
    eval: EvalConfig = field(default_factory=EvalConfig)
    advset: "AdvSet | None" = None


class Objective(ABC):
    """One minimised quantity of a trained (or untrained, for cost) model."""

    name: str
    needs_training: bool = True

    @abstractmethod
    def compute(self, model: nn.Module, data: ObjectiveData) -> float:
        """The objective's value for ``model``."""

    def __repr__(self) -> str:
        return f"<objective {self.name}>"


OBJECTIVES: Registry[Callable[[str | None, EvalConfig], Objective]] = Registry("objective")


def _no_argument(name: str, arg: str | None) -> None:
    if arg is not None:
        raise ParseError(f"objective {name!r} takes no argument, got {name}:{arg}")


class CleanError(Objective):
    name = "clean_error"

    def compute(self, model: nn.Module, data: ObjectiveData) -> float:
        return 100.0 * (1.0 - clean_accuracy(model, data.split, batch_size=data.eval.batch_size))


class RobustError(Objective):
    def __init__(self, attack: str, eps: Eps, eval_cfg: EvalConfig) -> None:
        self.attack, self.eps, self.eval_cfg = attack, eps, eval_cfg
        self.threat_model = SuiteSettings.of(eval_cfg).threat_model(attack, (eps,))  # validates attack and norm
        self.name = f"robust_error:{attack}@{eps.label}"

    def compute(self, model: nn.Module, data: ObjectiveData) -> float:
        model.eval()
        attack = self.threat_model.create(self.eps, data.seed)
        return 100.0 * (1.0 - robust_accuracy(model, data.split, attack, batch_size=data.eval.batch_size))


class AdvSetError(Objective):
    name = "advset_error"

    def compute(self, model: nn.Module, data: ObjectiveData) -> float:
        if data.advset is None:
            raise InvalidValueError("objective advset_error needs a pre-generated adversarial set: "
                                    "--set search.discrete.advset=DIR (built by `robnas advset build`)")
        return float(evaluate_advset(model, data.advset, batch_size=data.eval.batch_size)["error"])


class Flops(Objective):
    name = "flops"
    needs_training = False

    def compute(self, model: nn.Module, data: ObjectiveData) -> float:
        return float(count_flops(model, data.input_shape))


class Params(Objective):
    name = "params"
    needs_training = False

    def compute(self, model: nn.Module, data: ObjectiveData) -> float:
        return float(count_params(model))


def _simple(cls: type[Objective]) -> Callable[[str | None, EvalConfig], Objective]:
    def make(arg: str | None, eval_cfg: EvalConfig) -> Objective:  # noqa: ARG001 (uniform factory signature)
        _no_argument(cls.name, arg)
        return cls()

    return make


def _robust_error(arg: str | None, eval_cfg: EvalConfig) -> Objective:
    attack, sep, eps_text = (arg or "").partition("@")
    if not attack or not sep or not eps_text:
        raise ParseError(f"objective robust_error needs an attack and a radius, e.g. robust_error:pgd@8/255, "
                         f"got {'robust_error:' + arg if arg else 'robust_error'}")
    return RobustError(attack, Eps.parse(eps_text), eval_cfg)  # bad names or parameters fail now, not in a worker


OBJECTIVES.register("clean_error")(_simple(CleanError))
OBJECTIVES.register("robust_error")(_robust_error)
OBJECTIVES.register("advset_error")(_simple(AdvSetError))
OBJECTIVES.register("flops")(_simple(Flops))
OBJECTIVES.register("params")(_simple(Params))


def parse_objective(spec: str, eval_cfg: EvalConfig | None = None) -> Objective:
    """An objective from its spelling ``name`` or ``name:argument``."""
    if not isinstance(spec, str) or not spec.strip():
        raise ParseError(f"an objective must be a name like clean_error or robust_error:pgd@8/255, got {spec!r}")
    base, sep, arg = spec.strip().partition(":")
    return OBJECTIVES.get(base)(arg if sep else None, eval_cfg or EvalConfig())


def parse_objectives(specs: tuple[str, ...] | list[str], eval_cfg: EvalConfig | None = None) -> list[Objective]:
    """Several objectives; at least one, no two with the same canonical name."""
    objectives = [parse_objective(s, eval_cfg) for s in specs]
    if not objectives:
        raise InvalidValueError("a search needs at least one objective, e.g. --objectives clean_error,flops")
    names = [o.name for o in objectives]
    if len(set(names)) != len(names):
        raise InvalidValueError(f"objectives repeat: {', '.join(names)}")
    return objectives


def list_objectives(pattern: str = "*") -> list[str]:
    return OBJECTIVES.names(pattern)

