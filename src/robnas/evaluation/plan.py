"""What an evaluation computes for one model, from the [eval] config: the Table 1 attack suite, or a
named protocol's threat-model grid, plus common corruptions when asked.

Everything is validated by :func:`check_plan` before a run directory is written.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from robnas.config.schema import EvalConfig
from robnas.data import Split
from robnas.errors import InvalidValueError
from robnas.evaluation.suite import check_suite, evaluate_model
from robnas.evaluation.reliability import PROBE_POINTS, probe_flags, result_flags
from robnas.evaluation.threat_models import ThreatModel, evaluate_threat_models, protocol


def corruption_names(cfg: EvalConfig) -> tuple[str, ...]:
    """The configured corruptions, with ``all`` expanded; unknown names raise the registry's error."""
    if not cfg.corruptions:
        return ()
    from robnas.corruptions import corrupt, list_corruptions

    names = tuple(list_corruptions()) if "all" in cfg.corruptions else tuple(cfg.corruptions)
    for name in names:
        if name not in list_corruptions():
            corrupt(name, None, 1, None)  # type: ignore[arg-type]  # raises UnknownNameError naming the fix
    return names


def check_plan(cfg: EvalConfig) -> None:
    if cfg.protocol is not None:
        protocol(cfg.protocol)
        if cfg.batch_size < 1:
            raise InvalidValueError("eval.batch_size must be >= 1")
    else:
        check_suite(cfg)
    corruption_names(cfg)


def corruption_summary(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Accuracy per corruption and severity, each corruption's mean, and the mean over all (mCA)."""
    per = {name: {"accuracy": r["accuracy"], "confidence": r["confidence"],
                  "mean": sum(r["accuracy"]) / len(r["accuracy"])}
           for name, r in results.items() if name != "clean"}
    overall = sum(p["mean"] for p in per.values()) / len(per) if per else 0.0
    return {"per_corruption": per, "mean": overall}


def grid_reliability(model: nn.Module, split: Split, threat_models: tuple[ThreatModel, ...],
                     results: dict[str, dict[str, Any]], seed: int) -> list[dict[str, str]]:
    """The reliability flags of a grid: model probes, and the result checks on the grid's accuracies."""
    attacks = {tm.attack: {f"{e:g}/255": {"accuracy": acc} for e, acc in zip(tm.eps_255, results[tm.key]["accuracy"])}
               for tm in threat_models}
    idx = torch.arange(min(len(split), PROBE_POINTS), device=split.device)
    flags = probe_flags(model, split.float_images(idx), split.labels[idx], seed) + result_flags({"attacks": attacks})
    return [flag.to_dict() for flag in flags]


def evaluate_plan(model: nn.Module, split: Split, cfg: EvalConfig, num_classes: int, seed: int = 0,
                  quiet: bool = False) -> dict[str, Any]:
    """One model's record: ``evaluate_model``'s fields, or ``{"protocol", "results"}`` for a protocol."""
    corruptions = corruption_names(cfg)
    if cfg.protocol is not None:
        results = evaluate_threat_models(model, split, protocol(cfg.protocol), num_classes, seed=seed,
                                         batch_size=cfg.batch_size, corruptions=corruptions, quiet=quiet)
        record: dict[str, Any] = {"n": len(split), "protocol": cfg.protocol, "results": results,
                                  "clean": results["clean"]}
        if cfg.reliability:
            record["reliability"] = grid_reliability(model, split, protocol(cfg.protocol), results, seed)
        if corruptions:
            record["corruptions"] = corruption_summary({k: results[k] for k in corruptions})
        return record
    record = evaluate_model(model, split, cfg, num_classes, seed=seed, quiet=quiet)
    if corruptions:
        results = evaluate_threat_models(model, split, (), num_classes, seed=seed, batch_size=cfg.batch_size,
                                         corruptions=corruptions, quiet=quiet)
        record["corruptions"] = corruption_summary(results)
    return record
