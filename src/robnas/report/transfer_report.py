"""The source x target transfer matrix of AdvRush Table 2 as JSON, Markdown and a heatmap PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from robnas.store.atomic import write_json_atomic, write_text_atomic
from robnas.store.figures import pyplot, save_figure


def transfer_markdown(result: dict[str, Any]) -> str:
    attack = result["attack"]
    lines = [f"**Transfer attack**: {attack['name']} (eps {attack.get('eps', 0):.4g}, {attack.get('norm', '')}) "
             f"crafted on the row model, accuracy % of the column model, n = {result['n']}; "
             "the diagonal is white-box\n",
             "| source \\ target | " + " | ".join(result["targets"]) + " |",
             "|---|" + "---:|" * len(result["targets"])]
    for source, row in zip(result["sources"], result["accuracy"]):
        lines.append(f"| {source} | " + " | ".join(f"{acc:.2f}" for acc in row) + " |")
    lines.append("| *clean* | " + " | ".join(f"{acc:.2f}" for acc in result["clean"]) + " |")
    return "\n".join(lines) + "\n"


def plot_transfer_heatmap(result: dict[str, Any], path: Path) -> Path:
    plt = pyplot()

    n = len(result["sources"])
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * n, 1.2 + 1.0 * n), dpi=120)
    image = ax.imshow(result["accuracy"], vmin=0, vmax=100, cmap="viridis")
    for i, row in enumerate(result["accuracy"]):
        for j, acc in enumerate(row):
            ax.text(j, i, f"{acc:.1f}", ha="center", va="center", color="white" if acc < 60 else "black", fontsize=8)
    ax.set_xticks(range(n), result["targets"], rotation=30, ha="right")
    ax.set_yticks(range(n), result["sources"])
    ax.set_xlabel("target")
    ax.set_ylabel("source")
    ax.set_title(f"accuracy (%) under transferred {result['attack']['name']}")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    save_figure(fig, path, tight=False)
    return path


def write_transfer_report(results_dir: Path, result: dict[str, Any], meta: dict[str, Any]) -> list[Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = results_dir / "transfer.json", results_dir / "transfer.md"
    write_json_atomic(json_path, {**meta, **result})
    write_text_atomic(md_path, f"# Transfer attacks: {meta.get('dataset', '')}\n\n" + transfer_markdown(result))
    return [json_path, md_path, plot_transfer_heatmap(result, results_dir / "transfer.png")]
