"""Benchmark objectives and fast lookups of them: what a search on a benchmark minimises, one table per process.

Search objectives looked up in a benchmark instead of trained: ``resolve(bench, "robust_error:fgsm@1/255")``.

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

Lookups: :func:`objective_table` opens a benchmark once per process (per file version and set of
objectives), resolves the objectives into one matrix and maps every canonical key to its row, so
that a search asking hundreds of architectures in each of a hundred runs pays a dictionary lookup
and a row read per query. Evaluators and NAS runs carry only the benchmark's path or shipped name and
the objective names (plain, picklable data); each worker process builds its own table on first use.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robnas.bench import measurements as m
from robnas.bench.benchmark import Benchmark
from robnas.bench.shipped import open_benchmark
from robnas.errors import DataError, InvalidValueError, ParseError, UnknownNameError

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


def _robust_error(bench: Benchmark, arg: str, replicate: int | None) -> BenchObjective:
    attack, sep, eps = arg.rpartition("@")
    if not sep or not attack or not eps:
        raise ParseError(f"objective robust_error needs an attack and a radius, e.g. robust_error:fgsm@1/255, got "
                         f"robust_error:{arg}")
    key = attack_key(bench, attack)
    label = m.radius_on(bench, key, eps)
    if label is None:
        raise InvalidValueError(f"benchmark {bench.name} measured {key} at eps {', '.join(map(str, bench.axis(key)))}, "
                                f"not {eps}; use one of those radii")
    return BenchObjective(f"robust_error:{attack}@{label}", _error(bench.query(key, eps=label, replicate=replicate)),
                          f"error under {m.attack_name(key, bench.result_keys('attack'))} at {label} (%)")


def _corruption_error(bench: Benchmark, arg: str, replicate: int | None) -> BenchObjective:
    if arg == "mean":
        return BenchObjective("corruption_error:mean", _error(bench.corruption_mean(replicate=replicate)),
                              "error over every corruption and severity (%)")
    name, sep, severity = arg.partition("@")
    if name not in bench.result_keys("corruption"):
        raise UnknownNameError(f"benchmark {bench.name} has no corruption {name!r}; it has: "
                               f"{', '.join(bench.result_keys('corruption')) or 'none'} (or use corruption_error:mean)")
    if not sep:
        return BenchObjective(f"corruption_error:{name}", _error(bench.query(name, replicate=replicate).mean(axis=1)),
                              f"error under {name}, mean over its severities (%)")
    try:
        level = int(severity)
    except ValueError:
        raise ParseError(f"corruption severity must be an integer, got corruption_error:{arg}") from None
    return BenchObjective(f"corruption_error:{name}@{level}", _error(bench.query(name, eps=level, replicate=replicate)),
                          f"error under {name} at severity {level} (%)")


def _cost(bench: Benchmark, name: str) -> BenchObjective:
    values = bench.column(name)
    if not np.isfinite(values).any():
        raise UnknownNameError(f"benchmark {bench.name} has no {name} counts (an imported layout carries none); "
                               "use a benchmark built by robnas bench build")
    return BenchObjective(name, _minimised(values), f"{name} count")


def _proxy(bench: Benchmark, spec: str, replicate: int | None) -> BenchObjective:
    if spec not in bench.result_keys("proxy"):
        raise UnknownNameError(f"benchmark {bench.name} has no {spec!r}; its proxies: "
                               f"{', '.join(bench.result_keys('proxy')) or 'none (robnas bench proxies computes them)'}")
    direction = m.proxy_direction(spec)
    values = np.asarray(bench.query(spec, m.PROXY_MEASURE, replicate=replicate), dtype=np.float64)
    sign = -1.0 if direction == "more accurate" else 1.0
    what = {"less robust": "larger predicts less robust: minimised as stored",
            "more accurate": "larger predicts more accurate: negated",
            "larger network": "a network size: minimised as a cost"}[direction]
    return BenchObjective(spec, _minimised(sign * values), f"{spec} ({what})")


def resolve(bench: Benchmark, spec: str, replicate: int | None = None) -> BenchObjective:
    """The objective ``spec`` over every architecture of ``bench``: the mean over replicates, or the value of
    replicate ``replicate`` alone (a search that selects on one replicate is scored on another); bad names
    and radii raise one line."""
    if not isinstance(spec, str) or not spec.strip():
        raise ParseError(f"a benchmark objective is one of {FORMS}; got {spec!r}")
    text = spec.strip()
    if text.startswith(m.PROXY_PREFIX):
        return _proxy(bench, text, replicate)
    base, sep, arg = text.partition(":")
    if base == "clean_error" and not sep:
        m.clean(bench)  # the benchmark's one-line error when it has no clean accuracy
        return BenchObjective("clean_error", _error(bench.query("clean", replicate=replicate)), "clean error (%)")
    if base == "robust_error":
        return _robust_error(bench, arg, replicate)
    if base == "corruption_error" and arg:
        return _corruption_error(bench, arg, replicate)
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


@dataclass(frozen=True)
class ObjectiveTable:
    """Minimised objective values of every architecture of one benchmark."""

    name: str                       # the benchmark's name
    space: str
    dataset: str
    objectives: tuple[str, ...]     # canonical names, in the order asked
    archs: tuple[str, ...]          # representative arch strings, row order
    positions: dict[str, int]       # canonical key -> row
    values: np.ndarray              # (architectures, objectives), +inf where not measured

    def position(self, key: str) -> int:
        try:
            return self.positions[key]
        except KeyError:
            raise DataError(f"architecture key {key} is not in benchmark {self.name} ({len(self.archs)} "
                            f"{self.space} architectures); search a space the benchmark covers wholly") from None

    def metrics(self, row: int) -> dict[str, float]:
        return dict(zip(self.objectives, map(float, self.values[row])))


_TABLES: dict[tuple[str, tuple[str, ...], int, int | None], ObjectiveTable] = {}


def _version(source: str) -> int:
    """A file's modification time (a rebuilt file at the same path is re-read); 0 for shipped names."""
    try:
        return Path(source).stat().st_mtime_ns
    except OSError:
        return 0


def objective_table(source: str | os.PathLike[str], objectives: Sequence[str],
                    replicate: int | None = None) -> ObjectiveTable:
    """The (cached) table of ``objectives`` over the benchmark at ``source`` (a file or a shipped name): replicate
    means, or replicate ``replicate``'s values."""
    text = str(source)
    cache_key = (text, tuple(objectives), _version(text), replicate)
    table = _TABLES.get(cache_key)
    if table is None:
        with open_benchmark(text) as bench:
            resolved = [resolve(bench, spec, replicate) for spec in objectives]
            table = ObjectiveTable(
                name=bench.name, space=bench.space, dataset=bench.dataset,
                objectives=tuple(o.name for o in resolved), archs=tuple(bench.archs()),
                positions={k: i for i, k in enumerate(bench.keys())},
                values=np.stack([o.values for o in resolved], axis=1) if resolved else np.zeros((len(bench), 0)))
        _TABLES[cache_key] = table
    return table
