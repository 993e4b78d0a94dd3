"""Search objectives looked up in a benchmark instead of trained: ``resolve(bench, "robust_error:fgsm@1/255")``.

Every objective is minimised, one value per architecture (aligned with :meth:`Benchmark.archs`):

* ``clean_error`` -- 100 x (1 - clean accuracy), percent;
* ``robust_error:<attack>@<eps>`` -- percent error under an attack key of the benchmark at one radius of
  its axis; ``<attack>`` is the key's attack name (``fgsm``, ``pgd``, ``apgd-ce`` or ``aa_apgd-ce``,
  ``square``) or, when two keys share a name, the whole key (``robust_error:pgd@L2@0.5``);
* ``corruption_error:mean`` -- percent error averaged over every corruption and severity;
  ``corruption_error:<name>`` over one corruption's severities, ``corruption_error:<name>@<severity>``
  at one severity;
* ``params``, ``flops`` -- the benchmark's counts;
* ``proxy:<name>@init|trained`` -- a stored proxy, oriented so that lower is better by the proxy's
  registered ``higher_is``: "less robust" proxies are minimised as they are, "more accurate" ones
  (synflow, jacob_cov, grad_norm) negated, "larger network" counters (params, flops) minimised as a
  cost, like the ``params`` objective.

An architecture the benchmark did not measure (a failed build, an undefined proxy) gets ``+inf``, so
a strategy ranks it last, as it ranks a failed training. The canonical spelling of an objective
(:attr:`BenchObjective.name`) writes the radius as the benchmark's axis label (``1/255``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robnas.bench import measurements as m
from robnas.bench.benchmark import Benchmark
from robnas.errors import InvalidValueError, ParseError, UnknownNameError

FORMS = ("clean_error, robust_error:<attack>@<eps>, corruption_error:mean|<name>[@<severity>], params, flops, "
         "proxy:<name>@init|trained")


@dataclass(frozen=True)
class BenchObjective:
    """A minimised per-architecture quantity of a benchmark."""

    name: str                 # canonical spelling, e.g. robust_error:fgsm@1/255
    values: np.ndarray        # minimised; +inf where the benchmark has no value
    description: str          # for reports: "error under fgsm at 1/255 (%)"


def _minimised(values: np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=np.float64).copy()
    out[~np.isfinite(out)] = np.inf
    return out


def _error(accuracy: np.ndarray) -> np.ndarray:
    return _minimised(100.0 * (1.0 - np.asarray(accuracy, dtype=np.float64)))


def attack_key(bench: Benchmark, attack: str) -> str:
    """The attack key named by ``attack`` (a key, or its attack name with or without ``aa_``)."""
    keys = bench.result_keys("attack")
    found = [k for k in keys if attack in {k, k.removeprefix("aa_"), k.split("@")[0], k.split("@")[0].removeprefix("aa_")}]
    if not found:
        raise UnknownNameError(f"benchmark {bench.name} has no attack {attack!r}; its attack keys: "
                               f"{', '.join(keys) or 'none'}")
    if len(found) > 1:
        raise InvalidValueError(f"attack {attack!r} names several keys of benchmark {bench.name} ({', '.join(found)}); "
                                f"write the whole key, e.g. robust_error:{found[0]}@<eps>")
    return found[0]


def _robust_error(bench: Benchmark, arg: str) -> BenchObjective:
    attack, sep, eps = arg.rpartition("@")
    if not sep or not attack or not eps:
        raise ParseError(f"objective robust_error needs an attack and a radius, e.g. robust_error:fgsm@1/255, got "
                         f"robust_error:{arg}")
    key = attack_key(bench, attack)
    label = m.radius_on(bench, key, eps)
    if label is None:
        raise InvalidValueError(f"benchmark {bench.name} measured {key} at eps {', '.join(map(str, bench.axis(key)))}, "
                                f"not {eps}; use one of those radii")
    return BenchObjective(f"robust_error:{attack}@{label}", _error(bench.query(key, eps=label)),
                          f"error under {m.attack_name(key, bench.result_keys('attack'))} at {label} (%)")


def _corruption_error(bench: Benchmark, arg: str) -> BenchObjective:
    if arg == "mean":
        return BenchObjective("corruption_error:mean", _error(bench.corruption_mean()),
                              "error over every corruption and severity (%)")
    name, sep, severity = arg.partition("@")
    if name not in bench.result_keys("corruption"):
        raise UnknownNameError(f"benchmark {bench.name} has no corruption {name!r}; it has: "
                               f"{', '.join(bench.result_keys('corruption')) or 'none'} (or use corruption_error:mean)")
    if not sep:
        return BenchObjective(f"corruption_error:{name}", _error(bench.query(name).mean(axis=1)),
                              f"error under {name}, mean over its severities (%)")
    try:
        level = int(severity)
    except ValueError:
        raise ParseError(f"corruption severity must be an integer, got corruption_error:{arg}") from None
    return BenchObjective(f"corruption_error:{name}@{level}", _error(bench.query(name, eps=level)),
                          f"error under {name} at severity {level} (%)")


def _cost(bench: Benchmark, name: str) -> BenchObjective:
    values = bench.column(name)
    if not np.isfinite(values).any():
        raise UnknownNameError(f"benchmark {bench.name} has no {name} counts (an imported layout carries none); "
                               "use a benchmark built by robnas bench build")
    return BenchObjective(name, _minimised(values), f"{name} count")


def _proxy(bench: Benchmark, spec: str) -> BenchObjective:
    if spec not in bench.result_keys("proxy"):
        raise UnknownNameError(f"benchmark {bench.name} has no {spec!r}; its proxies: "
                               f"{', '.join(bench.result_keys('proxy')) or 'none (robnas bench proxies computes them)'}")
    direction = m.proxy_direction(spec)
    values = np.asarray(bench.query(spec, m.PROXY_MEASURE), dtype=np.float64)
    sign = -1.0 if direction == "more accurate" else 1.0
    what = {"less robust": "larger predicts less robust: minimised as stored",
            "more accurate": "larger predicts more accurate: negated",
            "larger network": "a network size: minimised as a cost"}[direction]
    return BenchObjective(spec, _minimised(sign * values), f"{spec} ({what})")


def resolve(bench: Benchmark, spec: str) -> BenchObjective:
    """The objective ``spec`` over every architecture of ``bench``; bad names and radii raise one line."""
    if not isinstance(spec, str) or not spec.strip():
        raise ParseError(f"a benchmark objective is one of {FORMS}; got {spec!r}")
    text = spec.strip()
    if text.startswith(m.PROXY_PREFIX):
        return _proxy(bench, text)
    base, sep, arg = text.partition(":")
    if base == "clean_error" and not sep:
        return BenchObjective("clean_error", _error(m.clean(bench).values), "clean error (%)")
    if base == "robust_error":
        return _robust_error(bench, arg)
    if base == "corruption_error" and arg:
        return _corruption_error(bench, arg)
    if base in ("params", "flops") and not sep:
        return _cost(bench, base)
    if base == "advset_error":
        raise InvalidValueError("advset_error is measured on trained candidates (a pre-generated adversarial set); "
                                "a benchmark does not hold it")
    raise UnknownNameError(f"unknown benchmark objective {text!r}; a benchmark answers {FORMS}")


def fgsm_radius(bench: Benchmark) -> tuple[str, str]:
    """(FGSM key, radius label) of the default NAS objective, as Jung et al. search on FGSM accuracy.

    Their CIFAR-10 radius (1/255) says nothing about other datasets, so the radius is chosen from
    the data: the one at which the median architecture keeps closest to half its clean accuracy
    (the attack then spreads the architectures most, neither sparing nor breaking them all).
    """
    keys = bench.result_keys("attack")
    fgsm = [k for k in keys if k.split("@")[0].removeprefix("aa_") == "fgsm"]
    if not fgsm:
        raise UnknownNameError(f"benchmark {bench.name} has no FGSM measurements to search on; name an objective "
                               f"with --set bench.nas.objective=... ({FORMS})")
    key = fgsm[0]
    target = 0.5 * float(np.nanmedian(m.clean(bench).values))
    medians = np.nanmedian(bench.query(key), axis=0)
    labels = bench.axis(key)
    return key, str(labels[int(np.nanargmin(np.abs(medians - target)))])
