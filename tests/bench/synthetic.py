"""Synthetic NAS-Bench-201 benchmark files with a known, structured landscape (not random noise).

Every architecture class gets values computed from its representative's six edge operations:

* a *quality* score, additive over edges (a fixed table of op scores per edge), drives clean accuracy;
* a *robustness* score, additive too, sets how fast accuracy falls with the radius (so FGSM accuracy
  at a radius is a smooth function of the cell: local moves help, as in a real landscape);
* params are exact counts from the number of 3x3 and 1x1 convolutions (equal-parameter groups);
* corruptions follow clean accuracy with their own op effects; proxies are noisy functions of the
  truth in the direction their registered ``higher_is`` says (``jacobian`` rises when robustness falls),
  ``jacob_cov`` is NaN on a few architectures.

Small noise (seeded) breaks ties. The files are written with :class:`BenchmarkFile` exactly as a
build writes them (one ``ArchResult`` per class, packed columns).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robnas.bench.store import ArchResult, BenchmarkFile, pack_points
from robnas.spaces.nb201 import OPS_NB201, arch_str, parse_arch, unique_key
from robnas.spaces.nb201.index import unique_ids

FGSM = ("0.1/255", "0.5/255", "1/255", "2/255", "3/255", "4/255", "5/255", "6/255", "7/255", "8/255", "255/255")
OTHER = ("0.1/255", "0.5/255", "1/255", "2/255", "3/255", "4/255", "8/255")
ATTACKS = {"fgsm@Linf": FGSM, "pgd@Linf": OTHER, "aa_apgd-ce@Linf": OTHER, "aa_square@Linf": OTHER}
CORRUPTIONS = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
               "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
               "jpeg_compression")
PROXIES = ("jacobian", "hessian", "hessian-weights", "curvature", "synflow", "jacob_cov", "grad_norm", "params",
           "flops")
#: Attack strength: accuracy at radius r is clean * exp(-strength * r_255 / robustness).
STRENGTH = {"fgsm@Linf": 0.35, "pgd@Linf": 0.5, "aa_apgd-ce@Linf": 0.55, "aa_square@Linf": 0.3}


def edge_ops(arch: str) -> list[int]:
    return [OPS_NB201.index(op) for node in parse_arch(arch) for op, _ in node]


def landscape(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(quality, robustness) op-score tables, edges x ops."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(0.0, 1.0, (6, 5))
    quality[:, 0] -= 1.5                      # none: cutting an edge hurts
    robustness = rng.normal(0.0, 1.0, (6, 5))
    robustness[:, 3] += 0.5                   # 3x3 convolutions help robustness a little everywhere
    return quality, robustness


def values(ids: list[int], seed: int = 0) -> dict[str, np.ndarray]:
    """Every synthetic column over the representatives ``ids`` (accuracies as fractions)."""
    quality_table, robust_table = landscape(seed)
    rng = np.random.default_rng(seed + 1)
    ops = np.array([edge_ops(arch_str(i)) for i in ids])
    edges = np.arange(6)
    q = quality_table[edges, ops].sum(axis=1)
    r = robust_table[edges, ops].sum(axis=1)
    q = (q - q.mean()) / q.std()
    r = (r - r.mean()) / r.std()
    n = len(ids)
    out: dict[str, np.ndarray] = {}
    clean = np.clip(0.6 + 0.12 * q + rng.normal(0, 0.01, n), 0.1, 0.99)
    out["clean"] = clean
    robust = 1.0 + 0.35 * r                   # > 0: the larger, the slower accuracy falls
    robust = np.clip(robust, 0.2, None)
    for key, labels in ATTACKS.items():
        radii = np.array([float(label.split("/")[0]) for label in labels])
        columns = clean[:, None] * np.exp(-STRENGTH[key] * np.minimum(radii, 16)[None, :] / robust[:, None])
        out[key] = np.clip(columns + rng.normal(0, 0.005, columns.shape), 0.0, 1.0)
    for k, name in enumerate(CORRUPTIONS):
        effect = rng.normal(0, 0.03, 5)[ops].sum(axis=1)
        severities = clean[:, None] * (1 - 0.08 * np.arange(1, 6))[None, :] + effect[:, None]
        out[name] = np.clip(severities + rng.normal(0, 0.01, severities.shape), 0.0, 1.0)
    convs3, convs1 = (ops == 3).sum(axis=1), (ops == 2).sum(axis=1)
    out["params"] = (20_000 + 4_700 * convs3 + 560 * convs1).astype(np.float64)
    out["flops"] = out["params"] * 64.0
    fgsm_mid = out["fgsm@Linf"][:, 2]
    for when, noise in (("init", 0.6), ("trained", 0.25)):
        out[f"proxy:jacobian@{when}"] = np.exp(-3 * fgsm_mid + rng.normal(0, noise, n))          # less robust
        out[f"proxy:hessian@{when}"] = np.exp(-2 * r + rng.normal(0, noise, n))                  # less robust
        out[f"proxy:hessian-weights@{when}"] = rng.lognormal(0, 1, n)                            # uninformative
        out[f"proxy:curvature@{when}"] = np.exp(-r + rng.normal(0, 2 * noise, n))                # less robust
        out[f"proxy:synflow@{when}"] = 1e3 * np.exp(q + rng.normal(0, noise, n))                 # more accurate
        cov = q + rng.normal(0, noise, n)
        cov[rng.choice(n, size=3, replace=False)] = np.nan                                        # undefined on 3
        out[f"proxy:jacob_cov@{when}"] = cov
        out[f"proxy:grad_norm@{when}"] = np.exp(0.5 * q + rng.normal(0, 2 * noise, n))
        out[f"proxy:params@{when}"] = out["params"].copy()
        out[f"proxy:flops@{when}"] = out["flops"].copy()
    return out


def replicate_values(data: dict[str, np.ndarray], replicate: int, noise: float, seed: int) -> dict[str, np.ndarray]:
    """Another training of the same cells: every accuracy moved by seeded noise of SD ``noise`` (replicate 0 is
    ``data`` itself), every proxy by a log-normal factor; counts stay."""
    if replicate == 0:
        return data
    rng = np.random.default_rng([seed, 7, replicate])
    out = {}
    for key, value in data.items():
        if key in ("params", "flops") or key.endswith(("@init", "@trained")) and ("params" in key or "flops" in key):
            out[key] = value
        elif key.startswith("proxy:"):
            out[key] = value * rng.lognormal(0.0, noise, value.shape)
        else:
            out[key] = np.clip(value + rng.normal(0.0, noise, value.shape), 0.0, 1.0)
    return out


def point_bits(accuracy: np.ndarray, points: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-point outcomes whose share is ``accuracy`` rounded to ``points`` (each architecture gets the easiest
    points of a seeded difficulty order right): (bits ``[..., points]``, the exact accuracy they give)."""
    order = rng.permutation(points)
    right = np.rint(np.asarray(accuracy) * points).astype(np.int64)
    bits = order[None, :] < right.reshape(-1, 1)
    bits = bits.reshape(*np.shape(accuracy), points)
    return bits, right / points


def write_benchmark(path: Path, count: int | None = None, seed: int = 0, attacks: tuple[str, ...] | None = None,
                    corruptions: tuple[str, ...] = CORRUPTIONS, proxies: tuple[str, ...] = PROXIES,
                    dataset: str = "digits", recipe: str = "digits-tiny", replicates: int = 1,
                    points: int | None = None, noise: float = 0.02) -> Path:
    """A benchmark file of ``count`` representatives (all 6466 when None; else a seeded sample), with
    ``replicates`` runs per architecture (noise of SD ``noise`` between them) and, with ``points``, per-point
    outcomes of that many test points behind every accuracy (which then equals their share)."""
    ids = list(unique_ids())
    if count is not None:
        ids = sorted(np.random.default_rng(seed).choice(ids, size=count, replace=False).tolist())
    base = values(ids, seed)
    attack_keys = tuple(ATTACKS) if attacks is None else attacks
    axes = {"clean": {"kind": "clean", "axis": []}}
    axes.update({k: {"kind": "attack", "axis": list(ATTACKS[k]), "norm": "Linf"} for k in attack_keys})
    axes.update({c: {"kind": "corruption", "axis": [1, 2, 3, 4, 5]} for c in corruptions})
    proxy_keys = [f"proxy:{p}@{w}" for p in proxies for w in ("init", "trained")]
    axes.update({k: {"kind": "proxy", "axis": []} for k in proxy_keys})
    results = []
    rng = np.random.default_rng([seed, 11])
    for replicate in range(replicates):
        data = replicate_values(base, replicate, noise, seed)
        for i, ident in enumerate(ids):
            arch = arch_str(ident)
            measures = {("clean", "accuracy"): data["clean"][i]}
            measures.update({(k, "accuracy"): data[k][i] for k in (*attack_keys, *corruptions)})
            if points is not None:
                for k in ("clean", *attack_keys, *corruptions):
                    bits, exact = point_bits(measures[(k, "accuracy")], points, rng)
                    measures[(k, "accuracy")] = exact
                    measures[(k, "correct")] = pack_points(bits)
            measures.update({(k, "value"): data[k][i] for k in proxy_keys})
            results.append(ArchResult(key=unique_key(arch), arch=arch, ident=ident, seed=seed + replicate,
                                      params=int(data["params"][i]), flops=int(data["flops"][i]), measures=measures,
                                      replicate=replicate))
    with BenchmarkFile(path, readonly=False) as bench:
        bench.set_meta({"space": "nb201", "dataset": dataset, "axes": axes, "recipe": recipe,
                        "source": "synthetic (tests/bench/synthetic.py)", "replicates": replicates,
                        **({"test_points": points} if points is not None else {})})
        bench.add_many(results)
        bench.pack()
    return path
