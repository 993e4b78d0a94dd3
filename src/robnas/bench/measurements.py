"""A benchmark's measurements as named per-architecture columns: what the studies rank and tabulate.

A :class:`Measurement` is one number per architecture (aligned with :meth:`Benchmark.archs`):

* ``clean`` -- clean accuracy;
* one per attack key and radius (``fgsm 1/255``), accuracy under that attack;
* one per corruption (its accuracy averaged over the severities) and ``corruption mean`` (over every
  corruption and severity, the robustness dataset's "CIFAR-10-C" number);
* ``mean adversarial`` -- the mean over every attack key and radius (Jung et al. Sec. 3.3);
* one per stored proxy (``proxy:<name>@init|trained``), **oriented** by the proxy's registered
  ``higher_is`` so that a larger oriented value always predicts a *better* architecture: a proxy
  whose larger value means "less robust" is negated; "more accurate" is kept; "larger network"
  (parameter and FLOP counts) is kept, i.e. read as "a larger network is predicted more robust".

Accuracies are fractions in [0, 1] (as the benchmark stores them); NaN marks an architecture that was
not measured (a failed build, an undefined proxy value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from robnas.bench.benchmark import Benchmark, same_radius
from robnas.eps import Eps
from robnas.errors import InvalidValueError, UnknownNameError
from robnas.proxies import get_proxy

PROXY_PREFIX = "proxy:"
PROXY_MEASURE = "value"
#: How an oriented proxy is read, by its registered ``higher_is``: (sign, what a larger oriented value predicts).
ORIENTATION = {"less robust": (-1.0, "more robust (sign flipped)"),
               "more accurate": (1.0, "more accurate"),
               "larger network": (1.0, "a larger network, read as more robust")}


@dataclass(frozen=True)
class Measurement:
    """One named number per architecture."""

    label: str                   # shown in tables and figures: "clean", "fgsm 1/255", "fog", "jacobian@init"
    kind: str                    # clean | attack | corruption | summary | proxy
    values: np.ndarray           # accuracy fraction, or an oriented proxy value
    key: str = ""                # the benchmark's result key ("" for summaries)
    eps: str | None = None       # the radius label of an attack column
    group: str = ""              # the attack's display name (heatmap column groups), the proxy's direction

    def __len__(self) -> int:
        return len(self.values)


def attack_name(key: str, keys: Sequence[str] = ()) -> str:
    """Display name of an attack key: ``aa_apgd-ce@Linf`` -> ``apgd-ce`` (with the norm when two keys share it)."""
    base = key.removeprefix("aa_")
    name = base.split("@")[0]
    clash = sum(1 for k in keys if k.removeprefix("aa_").split("@")[0] == name) > 1
    return base if clash else name


#: Which replicates a measurement reads: None = the mean over all, an index, or the mean over several.
Replicates = int | Sequence[int] | None


def clean(bench: Benchmark, replicate: Replicates = None) -> Measurement:
    if "clean" not in bench.result_keys("clean"):
        raise UnknownNameError(f"benchmark {bench.name} has no clean accuracy; it has: {', '.join(bench.result_keys())}")
    return Measurement("clean", "clean", bench.query("clean", replicate=replicate), key="clean")


#: Attack columns are shown in Jung et al.'s order; other attacks follow by name.
ATTACK_ORDER = ("fgsm", "pgd", "apgd-ce", "apgd", "square")


def attack_keys(bench: Benchmark) -> list[str]:
    """The benchmark's attack keys, FGSM, PGD, APGD and Square first (as Jung et al. show them)."""
    def rank(key: str) -> tuple[int, str]:
        name = key.removeprefix("aa_").split("@")[0]
        return (ATTACK_ORDER.index(name) if name in ATTACK_ORDER else len(ATTACK_ORDER), key)

    return sorted(bench.result_keys("attack"), key=rank)


def attacks(bench: Benchmark, replicate: Replicates = None) -> list[Measurement]:
    """Every attack key at every radius, keys in :func:`attack_keys` order, radii in axis order."""
    keys = attack_keys(bench)
    out = []
    for key in keys:
        name = attack_name(key, keys)
        values = bench.query(key, replicate=replicate)
        for i, label in enumerate(bench.axis(key)):
            out.append(Measurement(f"{name} {label}", "attack", values[:, i], key=key, eps=str(label), group=name))
    return out


def attack_at(bench: Benchmark, key: str, eps: str, replicate: Replicates = None) -> Measurement:
    """``key`` at the radius on its axis nearest to ``eps`` (the exact one when it has it)."""
    labels = [str(label) for label in bench.axis(key)]
    wanted = Eps.parse(eps).value
    label = min(labels, key=lambda lab: (abs(Eps.parse(lab).value - wanted), Eps.parse(lab).value))
    name = attack_name(key, bench.result_keys("attack"))
    values = bench.query(key, eps=label, replicate=replicate)
    return Measurement(f"{name} {label}", "attack", values, key=key, eps=label, group=name)


def at_radius(bench: Benchmark, radius: str | None, replicate: Replicates = None) -> list[Measurement]:
    """Every attack at ``radius`` (or the radius nearest to it on the attack's axis; without one, the
    middle of each axis), in :func:`attack_keys` order."""
    out = []
    for key in attack_keys(bench):
        labels = bench.axis(key)
        out.append(attack_at(bench, key, radius if radius is not None else str(labels[len(labels) // 2]), replicate))
    return out


def corruptions(bench: Benchmark, replicate: Replicates = None) -> list[Measurement]:
    """Each corruption (mean over its severities), then ``corruption mean``; [] without corruptions."""
    keys = bench.result_keys("corruption")
    out = [Measurement(k, "corruption", bench.query(k, replicate=replicate).mean(axis=1), key=k, group="corruption")
           for k in keys]
    if keys:
        out.append(Measurement("corruption mean", "summary", bench.corruption_mean(replicate=replicate),
                               group="corruption"))
    return out


def mean_adversarial(bench: Benchmark, replicate: Replicates = None) -> Measurement:
    """Mean accuracy over every attack key and radius (Jung et al.'s "mean adversarial accuracy")."""
    columns = attacks(bench, replicate)
    if not columns:
        raise UnknownNameError(f"benchmark {bench.name} has no attack measurements; it has: "
                               f"{', '.join(bench.result_keys())}")
    return Measurement("mean adversarial", "summary", np.mean([c.values for c in columns], axis=0))


def proxy_keys(bench: Benchmark, wanted: Sequence[str] = ()) -> list[str]:
    """The proxy result keys to study: ``wanted`` (keys ``proxy:<name>@<when>`` or bare proxy names, which
    select every stage stored), or every proxy key of the benchmark."""
    have = bench.result_keys("proxy")
    if not wanted:
        return have
    out: list[str] = []
    for item in wanted:
        text = item.strip()
        key = text if text.startswith(PROXY_PREFIX) else None
        matches = [key] if key in have else [k for k in have if proxy_name(k) == text]
        if not matches:
            raise UnknownNameError(f"benchmark {bench.name} has no proxy {text!r}; it has: "
                                   f"{', '.join(have) or 'none (compute them with robnas bench proxies)'}")
        out.extend(m for m in matches if m not in out)
    return out


def proxy_name(key: str) -> str:
    """``proxy:jacobian@init`` -> ``jacobian``."""
    return key.removeprefix(PROXY_PREFIX).rpartition("@")[0] or key.removeprefix(PROXY_PREFIX)


def proxy_direction(key: str) -> str:
    """The registered ``higher_is`` of a stored proxy; a proxy robnas does not know is refused."""
    return get_proxy(proxy_name(key)).higher_is


def proxies(bench: Benchmark, wanted: Sequence[str] = ()) -> list[Measurement]:
    """The chosen proxies, oriented so that a larger value predicts a better (more robust) architecture."""
    out = []
    keys = proxy_keys(bench, wanted)
    if not wanted:  # robustness proxies first, then clean zero-cost proxies, then size counters
        keys = sorted(keys, key=lambda k: (list(ORIENTATION).index(proxy_direction(k)), k))
    for key in keys:
        sign, meaning = ORIENTATION[proxy_direction(key)]
        values = np.asarray(bench.query(key, PROXY_MEASURE), dtype=np.float64)
        if values.ndim != 1:
            raise InvalidValueError(f"proxy {key} of benchmark {bench.name} is not one number per architecture")
        out.append(Measurement(key.removeprefix(PROXY_PREFIX), "proxy", sign * values, key=key, group=meaning))
    return out


def radius_on(bench: Benchmark, key: str, eps: str) -> str | None:
    """The label of ``eps`` on ``key``'s axis, or None."""
    return next((str(label) for label in bench.axis(key) if same_radius(label, eps)), None)
