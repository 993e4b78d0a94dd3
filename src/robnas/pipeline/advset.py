"""``robnas advset build|eval``: pre-generated adversarial sets (RoCo-NAS) as jobs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from robnas.adversarial_sets import advset_table, build_advset, evaluate_advset, load_advset, save_advset
from robnas.pipeline.config import RunConfig, written_config
from robnas.device import resolve_device
from robnas.errors import InvalidValueError
from robnas.pipeline.models import gather_models, require_models
from robnas.store.atomic import write_json_atomic, write_text_atomic
from robnas.store.run_dir import RunDir

ACTIONS = ("build", "eval")


def run(cfg: RunConfig) -> Path:
    """``advset.action = build``: attack the sources into a new set; ``eval``: score models on a set."""
    a = cfg.advset
    if a.action not in ACTIONS:
        raise InvalidValueError(f"advset.action must be build or eval, got {a.action!r}")
    if not a.path:
        raise InvalidValueError("robnas advset needs --advset DIR (the set to build or to score on)")
    return build_set(cfg, Path(a.path)) if a.action == "build" else score_set(cfg, Path(a.path))


def build_set(cfg: RunConfig, output: Path) -> Path:
    """Attack every source with every ``eval.attacks`` attack at every threshold; save the set to ``output``."""
    if output.exists():
        raise InvalidValueError(f"{output} already exists; choose another --advset or delete it")
    data, sources = gather_models(cfg)
    require_models(sources, "advset build")
    advset = build_advset(sources, data.test, list(cfg.eval.attacks), list(cfg.advset.thresholds), data.name,
                          seed=cfg.seed, batch_size=cfg.eval.batch_size)
    path = save_advset(advset, output)
    if not cfg.quiet:
        print(advset_table(advset.manifest))
    return path


def score_set(cfg: RunConfig, advset_path: Path) -> Path:
    """Accuracy and error of each model on a saved set, overall and per cell."""
    advset = load_advset(advset_path, resolve_device(cfg.device))
    # Models are built for the set's dataset (its classes and channels), whatever --dataset says.
    _, entries = gather_models(cfg, replace(cfg.data, name=advset.manifest["dataset"]))
    require_models(entries, "advset eval")
    run_dir = RunDir.create(cfg.out, cfg.name, "advset", quiet=cfg.quiet)
    run_dir.write_config(written_config(cfg))
    scores = {label: evaluate_advset(model, advset) for label, model in entries}
    write_json_atomic(run_dir.results / "advset_scores.json", {"advset": str(advset_path),
                                                               "manifest": advset.manifest, "models": scores})
    lines = [f"# Scores on the adversarial set {advset_path} ({advset.manifest['total']} examples)\n",
             "| Model | Accuracy % | Error % |", "|---|---:|---:|"]
    lines += [f"| {label} | {s['accuracy']:.2f} | {s['error']:.2f} |" for label, s in scores.items()]
    write_text_atomic(run_dir.results / "advset_scores.md", "\n".join(lines) + "\n\n" + advset_table(advset.manifest))
    for label, s in scores.items():
        run_dir.log(f"{label}: accuracy {s['accuracy']:.2f}% on {s['n']} adversarial examples")
    return run_dir.results
