"""Design analysis of a benchmark (Jung et al. Sec. 3.3 and Fig. 5): does the cell's topology matter
when the parameter count does not change?

* **Equal-parameter groups.** Architectures are grouped by their exact parameter count (the
  benchmark's ``params`` column); a benchmark without one (an imported layout) is grouped, in the
  NAS-Bench-201 space, by its numbers of 3x3 and 1x1 convolutions, which fix the parameter count
  there. Within each group the spread of *mean adversarial accuracy* (the mean over every attack and
  radius, Jung et al.'s ranking) is stated in numbers: min, quartiles, max, IQR, and the best
  architecture of the group.
* **Accuracy against parameter count** under each attack (at the study's radius) and for the mean:
  one panel each, a box per parameter group.
* **Operations per edge**: how often each operation sits on each edge (gene) among the top and the
  bottom ``decile`` % of architectures by mean adversarial accuracy. The arch strings are the
  benchmark's representatives, so an edge that a representative leaves unused (equivalent cells) is
  counted with the operation the representative happens to carry.
* **Fig. 5 layout**: the top ``top`` architectures of the largest equal-parameter group, one row each,
  one coloured cell per edge naming its operation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robnas.bench import measurements as m
from robnas.bench.benchmark import Benchmark
from robnas.errors import InvalidValueError, UnknownNameError
from robnas.spaces import get_space
from robnas.spaces.nb201 import OPS_NB201, parse_arch
from robnas.store.figures import pyplot, save_figure


@dataclass
class Groups:
    """Architectures grouped by parameter count."""

    how: str                        # "params" or "conv counts"
    labels: list[str]               # one per group, in increasing parameter order
    params: list[float]             # the group's parameter count (NaN for conv-count groups)
    members: list[np.ndarray]       # architecture positions per group


def parameter_groups(bench: Benchmark) -> Groups:
    params = bench.column("params")
    if np.isfinite(params).any():
        values = np.unique(params[np.isfinite(params)])
        members = [np.flatnonzero(params == v) for v in values]
        return Groups("params", [f"{int(v):,}" for v in values], [float(v) for v in values], members)
    if bench.space != "nb201":
        raise UnknownNameError(f"benchmark {bench.name} has no parameter counts to group its {bench.space} "
                               "architectures by; use a benchmark built by robnas bench build")
    counts = [(sum(op == "nor_conv_3x3" for node in parse_arch(a) for op, _ in node),
               sum(op == "nor_conv_1x1" for node in parse_arch(a) for op, _ in node)) for a in bench.archs()]
    # 3x3 and 1x1 convolutions of C channels: 9 C^2 against C^2 weights, so order by 9 n3 + n1
    distinct = sorted(set(counts), key=lambda c: (9 * c[0] + c[1], c))
    members = [np.array([i for i, c in enumerate(counts) if c == d], dtype=np.int64) for d in distinct]
    return Groups("conv counts", [f"3x3 x{a}, 1x1 x{b}" for a, b in distinct], [float("nan")] * len(distinct), members)


def spread(groups: Groups, score: np.ndarray, archs: Sequence[str],
           replicates: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Per group: size, min / quartiles / max / IQR of ``score`` (percent) and the best architecture; with
    ``replicates`` (``(R, A)`` per-replicate scores, R >= 2) also the group's replicate SD: the pooled SD
    between two trainings of one architecture, the noise a spread inside the group must exceed."""
    rows = []
    for label, value, members in zip(groups.labels, groups.params, groups.members):
        s = 100.0 * score[members]
        ok = np.isfinite(s)
        if not ok.any():
            continue
        q1, q2, q3 = np.percentile(s[ok], [25, 50, 75])
        best = members[ok][int(np.argmax(s[ok]))]
        row = {"group": label, "params": None if math.isnan(value) else value, "architectures": int(ok.sum()),
               "min": float(s[ok].min()), "q1": float(q1), "median": float(q2), "q3": float(q3),
               "max": float(s[ok].max()), "iqr": float(q3 - q1), "range": float(s[ok].max() - s[ok].min()),
               "best_arch": archs[best], "best": float(100.0 * score[best]), "replicate_sd": None}
        if replicates is not None and replicates.shape[0] >= 2:
            mine = 100.0 * replicates[:, members]
            both = np.isfinite(mine).all(axis=0)
            if both.any():
                row["replicate_sd"] = float(np.sqrt(np.mean(np.var(mine[:, both], axis=0, ddof=1))))
        rows.append(row)
    return rows


def gene_names(space: str, genes: int) -> tuple[list[str], list[str] | None]:
    """Row labels of the per-edge table (NB201: the six edges as Jung et al. number them) and value names."""
    if space == "nb201":
        edges = [f"edge {k + 1} ({j}->{i})" for k, (i, j) in enumerate((i, j) for i in (1, 2, 3) for j in range(i))]
        return edges, list(OPS_NB201)
    return [f"gene {g}" for g in range(genes)], None


def op_frequencies(bench: Benchmark, score: np.ndarray, decile: float) -> dict[str, Any]:
    """Share (%) of each value per gene among the top and bottom ``decile`` % by ``score``."""
    if not 0 < decile <= 50:
        raise InvalidValueError(f"bench.design.decile must be in (0, 50] percent, got {decile}")
    space = get_space(bench.space)
    ok = np.flatnonzero(np.isfinite(score))
    size = int(math.ceil(decile / 100.0 * len(ok)))
    if size < 1:
        raise InvalidValueError(f"the top {decile:g}% of {len(ok)} measured architectures is empty; raise "
                                "bench.design.decile")
    order = ok[np.argsort(-score[ok], kind="stable")]
    vectors = np.stack([space.to_vector(a) for a in bench.archs()])
    low, high = space.vector_bounds()
    genes, names = gene_names(bench.space, vectors.shape[1])
    values = list(range(int(low.min()), int(high.max()) + 1))
    value_names = names if names is not None else [str(v) for v in values]

    def share(rows: np.ndarray) -> list[list[float]]:
        return [[100.0 * float((vectors[rows, g] == v).mean()) for v in values] for g in range(vectors.shape[1])]

    return {"genes": genes, "values": value_names, "size": size, "top": share(order[:size]),
            "bottom": share(order[-size:])}


# --- report -------------------------------------------------------------------------------------


def spread_markdown(rows: list[dict[str, Any]], how: str) -> str:
    noisy = any(r.get("replicate_sd") is not None for r in rows)
    head = ("| parameter group | architectures | min | Q1 | median | Q3 | max | IQR | "
            + ("replicate SD | " if noisy else "") + "best architecture |")
    lines = [head, "|" + "---|" * (10 if noisy else 9)]
    for r in rows:
        sd = (f" {r['replicate_sd']:.2f} |" if r.get("replicate_sd") is not None else " n/a |") if noisy else ""
        lines.append(f"| {r['group']} | {r['architectures']} | {r['min']:.2f} | {r['q1']:.2f} | {r['median']:.2f} | "
                     f"{r['q3']:.2f} | {r['max']:.2f} | {r['iqr']:.2f} |{sd} `{r['best_arch']}` |")
    grouped = "exact parameter count" if how == "params" else "numbers of 3x3 and 1x1 convolutions"
    note = ("\nReplicate SD: the pooled SD (points) between two trainings of the same architecture in the group. A "
            "spread (IQR, range) is architecture, not seed, only where it is well above it; a range over many "
            "architectures grows with the group's size even from noise alone.\n" if noisy else
            "\nThis benchmark has one replicate per architecture: the spreads include seed noise of unknown size.\n")
    return f"Mean adversarial accuracy (%) per group of equal {grouped}:\n\n" + "\n".join(lines) + "\n" + note


def frequencies_markdown(freq: dict[str, Any], decile: float) -> str:
    head = "| | " + " | ".join(freq["values"]) + " |"
    lines = [head, "|---|" + "---|" * len(freq["values"])]
    for g, gene in enumerate(freq["genes"]):
        cells = [f"{t:.0f} / {b:.0f}" for t, b in zip(freq["top"][g], freq["bottom"][g])]
        lines.append(f"| {gene} | " + " | ".join(cells) + " |")
    return (f"Operation frequency (%) per edge, top {decile:g}% / bottom {decile:g}% of the architectures by mean "
            f"adversarial accuracy ({freq['size']} architectures each):\n\n" + "\n".join(lines) + "\n")


def plot_parameters(groups: Groups, columns: list[m.Measurement], path: str | Path, title: str) -> Path:
    """One panel per column: a box of accuracy (%) per parameter group, groups in parameter order."""
    plt = pyplot()
    cols = min(3, len(columns))
    rows = int(math.ceil(len(columns) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), dpi=110, squeeze=False,
                             layout="constrained")
    for ax, column in zip(axes.ravel(), columns):
        data = [100.0 * column.values[mem][np.isfinite(column.values[mem])] for mem in groups.members]
        ax.boxplot(data, showfliers=False, widths=0.6)
        ax.set_title(column.label, fontsize=9)
        ax.set_ylabel("accuracy (%)", fontsize=8)
        step = max(1, len(groups.labels) // 12)
        ax.set_xticks(range(1, len(groups.labels) + 1)[::step], groups.labels[::step], rotation=60, fontsize=6,
                      ha="right")
        ax.grid(True, axis="y", alpha=0.3)
    for ax in axes.ravel()[len(columns):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.supxlabel("parameter group (" + ("parameters" if groups.how == "params" else "convolutions") + ")",
                  fontsize=8)
    return save_figure(fig, path, tight=False)


def plot_top(bench: Benchmark, members: np.ndarray, score: np.ndarray, top: int, path: str | Path,
             title: str) -> Path | None:
    """Jung et al. Fig. 5: the ``top`` best architectures of a group by ``score``, one coloured cell per edge."""
    ok = members[np.isfinite(score[members])]
    best = ok[np.argsort(-score[ok], kind="stable")[:top]]
    if not len(best):
        return None
    space = get_space(bench.space)
    vectors = np.stack([space.to_vector(bench.archs()[i]) for i in best])
    genes, names = gene_names(bench.space, vectors.shape[1])
    low, high = space.vector_bounds()
    labels = names if names is not None else [str(v) for v in range(int(low.min()), int(high.max()) + 1)]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1.0 * vectors.shape[1] + 3.5, 0.3 * len(best) + 1.6), dpi=110)
    cmap = plt.get_cmap("tab10", len(labels))
    ax.imshow(vectors - int(low.min()), cmap=cmap, vmin=-0.5, vmax=len(labels) - 0.5, aspect="auto")
    ax.set_xticks(range(vectors.shape[1]), [str(g + 1) for g in range(vectors.shape[1])], fontsize=8)
    ax.set_xlabel("edge" if bench.space == "nb201" else "gene", fontsize=8)
    ax.set_yticks(range(len(best)), [f"{100.0 * score[i]:.1f}%" for i in best], fontsize=7)
    ax.set_ylabel("mean adversarial accuracy", fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(k)) for k in range(len(labels))]
    ax.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)
