"""Evaluation records written by hand, for tests of what reads them (reliability flags, reports)."""

from __future__ import annotations

from typing import Any

from robnas.eps import Eps
from robnas.evaluation.protocol import threat_model
from robnas.evaluation.record import AttackMeasures, EvaluationRecord, Measures, ThreatModelResult


def record_of(runs: dict[str, dict[str, Any]], clean: float = 90.0, norm: str = "Linf") -> EvaluationRecord:
    """``{key: {eps label: accuracy or {"accuracy": ..., "cumulative": {...}}}}`` -> a record; each key is an
    attack spelling (``pgd``, ``pgd-20``), which names the threat model's attack."""
    results = {}
    for key, by_label in runs.items():
        described = threat_model(key, tuple(by_label), norm)  # the attack and title the key spells
        by_eps = {}
        for label, run in by_label.items():
            run = run if isinstance(run, dict) else {"accuracy": run}
            by_eps[Eps.parse(label)] = AttackMeasures(accuracy=run["accuracy"], confidence=0.5, cm=[[1]],
                                                      cumulative=run.get("cumulative"))
        results[key] = ThreatModelResult(key=key, attack=described.attack, norm=norm, title=described.title,
                                         by_eps=by_eps)
    radii = {eps for r in results.values() for eps in r.by_eps}
    worst = {eps: min(r.by_eps[eps].accuracy for r in results.values() if eps in r.by_eps) for eps in radii}
    return EvaluationRecord(protocol="test", n=100, clean=Measures(clean, 0.9, [[1]]), threat_models=results,
                            worst_case={norm: worst})
