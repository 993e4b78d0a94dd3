"""``robnas advset build|eval``: pre-generated adversarial sets as jobs with run directories."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from robnas.advsets import advset_table, build_advset, evaluate_advset, load_advset, save_advset
from robnas.config import config_to_dict
from robnas.config.schema import ModelConfig, RunConfig
from robnas.device import resolve_device
from robnas.errors import InvalidValueError
from robnas.pipeline.study import gather_models
from robnas.store.atomic import write_json_atomic, write_text_atomic
from robnas.store.run_dir import RunDir


def build_set(cfg: RunConfig, checkpoints: list[str], models: tuple[ModelConfig, ...], thresholds: list[float],
              output: Path) -> Path:
    """Attack every source with every ``eval.attacks`` attack at every threshold; save the set to ``output``."""
    if output.exists():
        raise InvalidValueError(f"{output} already exists; choose another --advset or delete it")
    data, sources = gather_models(cfg, checkpoints, models)
    if not sources:
        raise InvalidValueError("robnas advset build needs source models (--checkpoint or --model)")
    advset = build_advset(sources, data.test, list(cfg.eval.attacks), thresholds, data.name, seed=cfg.seed,
                          batch_size=cfg.eval.batch_size)
    path = save_advset(advset, output)
    if not cfg.quiet:
        print(advset_table(advset.manifest))
    return path


def score_set(cfg: RunConfig, checkpoints: list[str], models: tuple[ModelConfig, ...], advset_path: Path) -> RunDir:
    """Accuracy and error of each model on a saved set, overall and per cell."""
    advset = load_advset(advset_path, resolve_device(cfg.device))
    # Models are built for the set's dataset (its classes and channels), whatever --dataset says.
    on_set = replace(cfg, data=replace(cfg.data, name=advset.manifest["dataset"]))
    _, entries = gather_models(on_set, checkpoints, models)
    if not entries:
        raise InvalidValueError("robnas advset eval needs models to score (--checkpoint or --model)")
    run = RunDir.create(cfg.out, cfg.name, "advset", quiet=cfg.quiet)
    run.write_config({**config_to_dict(cfg), "advset": str(advset_path), "checkpoints": list(checkpoints)})
    scores = {label: evaluate_advset(model, advset) for label, model in entries}
    write_json_atomic(run.results / "advset_scores.json", {"advset": str(advset_path), "manifest": advset.manifest,
                                                           "models": scores})
    lines = [f"# Scores on the adversarial set {advset_path} ({advset.manifest['total']} examples)\n",
             "| Model | Accuracy % | Error % |", "|---|---:|---:|"]
    lines += [f"| {label} | {s['accuracy']:.2f} | {s['error']:.2f} |" for label, s in scores.items()]
    write_text_atomic(run.results / "advset_scores.md", "\n".join(lines) + "\n\n" + advset_table(advset.manifest))
    for label, s in scores.items():
        run.log(f"{label}: accuracy {s['accuracy']:.2f}% on {s['n']} adversarial examples")
    return run
