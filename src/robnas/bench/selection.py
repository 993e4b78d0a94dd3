"""Which architectures a benchmark build covers: the whole space, a stratified sample, given ones, one shard.

A whole-space build takes one architecture per canonical key (in NAS-Bench-201 the representative,
i.e. the lowest id, of each of the 6466 classes). ``--shard K/M`` keeps every M-th architecture from
the K-th, so that M builds (machines, sessions) share a space and ``bench merge`` joins them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from robnas.errors import InvalidValueError
from robnas.spaces.nb201 import arch_str, representative
from robnas.spaces.nb201.index import unique_ids


def whole_space(space: Any) -> list[str]:
    """One architecture per canonical key of a finite space (NB201: the lowest id of each class)."""
    if space.name == "nb201":
        return [arch_str(i) for i in unique_ids()]
    size = space.size()
    if size is None or size > 200_000:
        raise InvalidValueError(f"the {space.name} space is too large to build whole; pass --sample N")
    raise InvalidValueError(f"building the whole {space.name} space needs its enumeration; pass --sample N")


def stratified_sample(space: Any, count: int, seed: int, build: dict[str, Any], in_channels: int,
                      num_classes: int) -> list[str]:
    """``count`` architectures spread over the parameter-count range: the candidates (the whole space when it
    is enumerable, else 20x ``count`` random draws) sorted by parameters and cut into ``count`` equal bins,
    one seeded draw per bin."""
    rng = random.Random(seed)
    try:
        pool = whole_space(space)
    except InvalidValueError:
        seen: dict[str, str] = {}
        for _ in range(20 * count):
            arch = space.sample(rng)
            seen.setdefault(space.key(arch), arch)
        pool = list(seen.values())
    if count > len(pool):
        raise InvalidValueError(f"--sample {count} exceeds the {len(pool)} distinct architectures available")
    sizes = [space.count_params(a, num_classes=num_classes, in_channels=in_channels, **build) for a in pool]
    order = sorted(range(len(pool)), key=lambda i: (sizes[i], space.key(pool[i])))
    bins = np.array_split(np.array(order), count)
    return [pool[int(rng.choice(list(b)))] for b in bins]


def parse_shard(text: str) -> tuple[int, int] | None:
    """``"K/M"`` -> (K, M) with 1 <= K <= M; ``""`` -> None."""
    if not text:
        return None
    k, sep, m = text.partition("/")
    if not sep or not k.strip().isdigit() or not m.strip().isdigit() or not 1 <= int(k) <= int(m):
        raise InvalidValueError(f"--shard must be K/M with 1 <= K <= M (e.g. 1/8), got {text!r}")
    return int(k), int(m)


def shard_of(items: list[Any], shard: str) -> list[Any]:
    """The items of shard ``"K/M"`` (every M-th from the K-th); all of them for ``""``."""
    parsed = parse_shard(shard)
    return items if parsed is None else items[parsed[0] - 1::parsed[1]]


def given_archs(space: Any, items: Sequence[str]) -> list[str]:
    """Architectures named by arch string, canonical key or (NAS-Bench-201) id, validated, without repeats."""
    out = []
    for item in items:
        text = item.strip()
        if text.isdigit():
            if space.name != "nb201":
                raise InvalidValueError(f"numeric ids name NAS-Bench-201 cells; the {space.name} space takes "
                                        "arch strings")
            text = arch_str(representative(int(text)))
        out.append(space.validate(text))
    return list(dict.fromkeys(out))


def chosen_archs(space: Any, only: Sequence[str], sample: int, seed: int, shard: str, build: dict[str, Any],
                 in_channels: int, num_classes: int) -> list[str]:
    """The architectures a build covers: ``only``, a stratified ``sample`` or the whole space, then its ``shard``."""
    if only:
        archs = given_archs(space, only)
    elif sample < 0:
        raise InvalidValueError(f"--sample must be >= 0 (0 = the whole space), got {sample}")
    elif sample:
        archs = stratified_sample(space, sample, seed, build, in_channels, num_classes)
    else:
        archs = whole_space(space)
    return shard_of(archs, shard)
