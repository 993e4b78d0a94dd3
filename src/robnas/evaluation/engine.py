"""The one evaluation engine: a :class:`Protocol` run on a model gives one :class:`EvaluationRecord`.

Every (threat model, radius) cell builds its attack seeded with the evaluation seed and attacks
the clean inputs (``mode="independent"``), so a number does not depend on the other threat models
of the protocol or on their order (``mode="nested"`` instead carries broken points to larger radii:
:func:`nested_grid`). The cells run in lockstep (:func:`attack_grid`): one batched model call per
round for all of them, which changes the batches, not the attacks. Corruptions draw from a generator
seeded the same way for every model, so models see the same corrupted images. The point-wise worst case at a radius is the
share of points no threat model of that norm broke there: a robust accuracy that survived every
attack of the protocol.

Accuracies are exact percentages (integer count / n), comparable across attacks without float noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

import robnas.distributed as distributed
from robnas.attacks.evaluate import AttackEvaluation, evaluate_attack
from robnas.attacks.lockstep import run_in_lockstep
from robnas.certify import certify
from robnas.certify.zonotope import check_certifiable
from robnas.checks import positive_int
from robnas.corruptions import corrupt
from robnas.data import Split, iterate_batches
from robnas.eps import Eps
from robnas.evaluation.protocol import Protocol, ThreatModel
from robnas.evaluation.record import AttackMeasures, EvaluationRecord, Measures, ThreatModelResult, pack_points_hex
from robnas.evaluation.reliability import PROBE_POINTS, probe_flags, result_flags
from robnas.metrics import confusion_matrix, hrs, mean_confidence
from robnas.nn.inference import inference_forward
from robnas.rng import make_generator


#: Most points one lockstep round batches together (cells x their batch): a bound on activation memory.
LOCKSTEP_POINTS = 8192
#: Corrupted images sent through the model in one forward (several corruption cells of a small split).
CORRUPTION_POINTS = 2048


def _percent(mask: torch.Tensor) -> float:
    """Exact percentage of True entries."""
    return 100.0 * int(mask.sum().item()) / max(mask.numel(), 1)


def plain_images(protocol: Protocol, points: int) -> int:
    """About how many images ``protocol`` sends through plain forwards on ``points`` points: the clean pass,
    every corruption cell, and per attack cell its clean screening, final forward and any query budget
    (Square's; a composite's is its Square's). An upper bound for searches that stop early: it decides
    only whether a faster forward's start-up is repaid (:func:`robnas.nn.inference.choose`)."""
    per_point = 1 + sum(len(s) for s in protocol.conditions().values())
    for tm in protocol.threat_models:
        for eps in tm.radii:
            per_point += 2 + int(getattr(tm.create(eps, 0), "queries", 0))
    return per_point * points


def _inference(model: nn.Module, split: Split, protocol: Protocol) -> Callable[[torch.Tensor], torch.Tensor]:
    """The model's fastest exact no-grad forward for this protocol, checked on the split's first points."""
    example = split.float_images(torch.arange(min(len(split), 64), device=split.device))
    return inference_forward(model, example, plain_images(protocol, len(split)))


@torch.no_grad()
def _logits(model: Callable[[torch.Tensor], torch.Tensor], split: Split, batch_size: int,
            transform: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    return torch.cat([model(x if transform is None else transform(x)) for x, _ in iterate_batches(split, batch_size)])


def _measures(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> Measures:
    pred = logits.argmax(1)
    correct = pred == labels
    return Measures(accuracy=_percent(correct), confidence=mean_confidence(logits),
                    cm=confusion_matrix(pred, labels, num_classes), points=pack_points_hex(correct.cpu().numpy()))


def _measures_of(res: AttackEvaluation, labels: torch.Tensor, num_classes: int) -> AttackMeasures:
    cumulative = None
    if res.report is not None:  # composites (AutoAttack): robust accuracy after each member, exact percentages
        cumulative = {member: 100.0 * count / max(res.report.n, 1)
                      for member, count in zip(res.report.members, res.report.robust)}
    return AttackMeasures(accuracy=_percent(~res.success), confidence=res.mean_confidence,
                          cm=confusion_matrix(res.adv_pred, labels, num_classes),
                          points=pack_points_hex((~res.success).cpu().numpy()),
                          seconds=res.seconds, queries=res.queries, cumulative=cumulative)


def attack_grid(model: nn.Module, split: Split, cells: list[tuple[ThreatModel, Eps]], seed: int = 0,
                batch_size: int = 256, lockstep: bool = True,
                inference: Callable[[torch.Tensor], torch.Tensor] | None = None,
                after_cell: Callable[[], None] | None = None) -> list[AttackEvaluation]:
    """Every (threat model, radius) cell attacked on the clean inputs, each seeded with ``seed``.

    ``lockstep`` runs the cells together (:mod:`robnas.attacks.lockstep`): their model queries
    travel in one batch per round, and each cell's draws and decisions are those of running it
    alone. ``inference`` answers plain forwards (a frozen copy of ``model``); gradients come from
    ``model``.
    """
    def job(tm: ThreatModel, eps: Eps) -> Callable[[nn.Module], AttackEvaluation]:
        def attack(target: nn.Module) -> AttackEvaluation:
            out = evaluate_attack(target, tm.create(eps, seed), split.images, split.labels, batch_size=batch_size)
            if after_cell is not None:
                after_cell()
            return out
        return attack

    return _run_cells(model, [job(tm, eps) for tm, eps in cells], min(batch_size, len(split)), lockstep, inference)


def _run_cells(model: nn.Module, jobs: list[Callable[[nn.Module], AttackEvaluation]], points: int, lockstep: bool,
               inference: Callable[[torch.Tensor], torch.Tensor] | None) -> list[AttackEvaluation]:
    """Run attack jobs of ``points`` points per batch, one after the other or in lockstep.

    In lockstep even one job gains: its plain forwards (Square's queries) go through the frozen graph.
    Jobs go in groups whose combined batch stays under LOCKSTEP_POINTS (activation memory on a GPU).
    """
    if not lockstep:
        return [attack(model) for attack in jobs]
    group = max(1, LOCKSTEP_POINTS // max(1, points))
    return [run for start in range(0, len(jobs), group)
            for run in run_in_lockstep(model, jobs[start:start + group], inference)]


def nested_grid(model: nn.Module, split: Split, threat_models: tuple[ThreatModel, ...], seed: int = 0,
                batch_size: int = 256, lockstep: bool = True,
                inference: Callable[[torch.Tensor], torch.Tensor] | None = None,
                after_cell: Callable[[], None] | None = None) -> dict[tuple[str, Eps], AttackEvaluation]:
    """``mode="nested"``: each threat model's radii in increasing order, a point broken at a radius counted
    broken at every larger one with the same adversarial example (it lies in the larger ball too), so
    only the points still unbroken are attacked at the next radius.

    Accuracies are then monotone in the radius and never above ``independent`` mode's for the same
    attack (up to the different random draws of the smaller subsets). The k-th radius of every threat
    model runs in one lockstep wave; composites report no per-member breakdown here.
    """
    images, labels = split.images, split.labels
    n = labels.shape[0]
    order = {tm.key: sorted(tm.radii) for tm in threat_models}
    broken = {tm.key: torch.zeros(n, dtype=torch.bool, device=labels.device) for tm in threat_models}
    pred = {tm.key: torch.zeros(n, dtype=torch.long, device=labels.device) for tm in threat_models}
    conf = {tm.key: torch.zeros(n, device=labels.device) for tm in threat_models}
    out: dict[tuple[str, Eps], AttackEvaluation] = {}
    for wave in range(max(len(r) for r in order.values())):
        cells = [(tm, order[tm.key][wave]) for tm in threat_models if wave < len(order[tm.key])]
        alive = {tm.key: (~broken[tm.key]).nonzero().flatten() for tm, _ in cells}

        def job(tm: ThreatModel, eps: Eps) -> Callable[[nn.Module], AttackEvaluation]:
            idx = alive[tm.key]
            return lambda target: evaluate_attack(target, tm.create(eps, seed), images[idx.to(images.device)],
                                                  labels[idx], batch_size=batch_size)

        runs = _run_cells(model, [job(tm, eps) for tm, eps in cells], min(batch_size, n), lockstep, inference)
        for (tm, eps), res in zip(cells, runs):
            idx = alive[tm.key]
            broken[tm.key][idx] = res.success
            pred[tm.key][idx] = res.adv_pred
            if res.confidences is not None:
                conf[tm.key][idx] = res.confidences
            success = broken[tm.key].clone()
            out[(tm.key, eps)] = AttackEvaluation(
                accuracy=0.0 if n == 0 else 1.0 - success.float().mean().item(), success=success,
                adv_pred=pred[tm.key].clone(), mean_confidence=0.0 if n == 0 else conf[tm.key].sum().item() / n,
                seconds=res.seconds, queries=res.queries, confidences=conf[tm.key].clone())
            if after_cell is not None:
                after_cell()
    return out


def evaluate_threat_model(model: nn.Module, split: Split, threat_model: ThreatModel, num_classes: int,
                          seed: int = 0, batch_size: int = 256, lockstep: bool = True,
                          after_radius: Callable[[], None] | None = None) -> tuple[ThreatModelResult, dict[Eps, torch.Tensor]]:
    """One threat model at every radius: its result, and per radius which points it broke (bool ``[N]``)."""
    cells = [(threat_model, eps) for eps in threat_model.radii]
    runs = attack_grid(model, split, cells, seed, batch_size, lockstep, after_cell=after_radius)
    return _threat_model_result(threat_model, cells, runs, split.labels, num_classes)


def _threat_model_result(tm: ThreatModel, cells: list[tuple[ThreatModel, Eps]], runs: list[AttackEvaluation],
                         labels: torch.Tensor, num_classes: int) -> tuple[ThreatModelResult, dict[Eps, torch.Tensor]]:
    mine = [(eps, res) for (cell_tm, eps), res in zip(cells, runs) if cell_tm is tm]
    by_eps = {eps: _measures_of(res, labels, num_classes) for eps, res in mine}
    result = ThreatModelResult(key=tm.key, attack=tm.attack, norm=tm.norm, title=tm.title, by_eps=by_eps)
    return result, {eps: res.success for eps, res in mine}


def evaluate_corruptions(model: Callable[[torch.Tensor], torch.Tensor], split: Split, names: tuple[str, ...],
                         severities: tuple[int, ...] | dict[str, tuple[int, ...]], num_classes: int, seed: int = 0,
                         batch_size: int = 256, quiet: bool = False,
                         quantize: bool = False) -> dict[str, dict[int, Measures]]:
    """Measures per corruption and severity (one tuple for every corruption, or each corruption's own); each
    (corruption, severity) draws from a generator seeded with ``seed``.

    The corrupted images of several cells go through the model together, in forwards of up to
    CORRUPTION_POINTS images: on a small test split (100 points) that is a few large forwards instead of
    75 small ones. Each cell's images are drawn exactly as before (its own generator, its batches in order).
    """
    out: dict[str, dict[int, Measures]] = {}
    waiting: list[tuple[str, int, torch.Tensor]] = []  # corrupted cells not yet through the model

    def flush() -> None:
        images = torch.cat([x for _, _, x in waiting])
        logits = torch.cat([model(chunk) for chunk in images.split(CORRUPTION_POINTS)]) if len(images) else images
        for (name, severity, x), part in zip(waiting, logits.split([len(x) for _, _, x in waiting])):
            out.setdefault(name, {})[severity] = _measures(part, split.labels, num_classes)
        waiting.clear()

    with torch.no_grad():
        for name in tqdm(names, desc="corruptions", disable=quiet, leave=False):
            for severity in (severities[name] if isinstance(severities, dict) else severities):
                gen = make_generator(seed, split.device)  # the same corruption draw for every model
                corrupted = [corrupt(name, x, severity, gen, quantize=quantize)
                             for x, _ in iterate_batches(split, batch_size)]
                waiting.append((name, severity, torch.cat(corrupted) if corrupted else split.float_images()))
                if sum(len(x) for _, _, x in waiting) >= CORRUPTION_POINTS:
                    flush()
        if waiting:
            flush()
    return {name: out[name] for name in names if name in out}


@torch.no_grad()
def duplicate_conditions(split: Split, protocol: Protocol, seed: int = 0,
                         batch_size: int = 256) -> tuple[tuple[str, int], ...]:
    """The (corruption, severity) conditions of ``protocol`` whose corrupted images, drawn exactly as
    :func:`evaluate_corruptions` draws them, equal a lower severity's on every point of ``split``: at a small
    input size some severities collapse (on 8x8 digits pixelate 2 = 1 and 4 = 3, motion_blur 4 = 3), and a
    duplicate measures nothing new. A protocol lists them in ``skip``."""
    found = []
    for name, severities in protocol.conditions().items():
        seen: list[torch.Tensor] = []
        for severity in severities:
            gen = make_generator(seed, split.device)
            images = torch.cat([corrupt(name, x, severity, gen, quantize=protocol.quantize)
                                for x, _ in iterate_batches(split, batch_size)])
            if any(torch.equal(images, other) for other in seen):
                found.append((name, severity))
            else:
                seen.append(images)
    return tuple(found)


def certified_accuracy(model: nn.Module, split: Split, protocol: Protocol,
                       batch_size: int = 256) -> dict[str, dict[Eps, float]]:
    """Per Linf radius of the protocol, the share of points proven robust (:func:`robnas.certify.certify`):
    a lower bound on every attack's accuracy there, where the attacks give upper bounds."""
    radii = sorted({eps for tm in protocol.threat_models if tm.norm == "Linf" for eps in tm.radii})
    out: dict[Eps, float] = {}
    for eps in radii:
        proven = [certify(model, x, y, float(eps)).certified for x, y in iterate_batches(split, batch_size)]
        out[eps] = _percent(torch.cat(proven)) if proven else 0.0
    return {"Linf": out} if out else {}


def _gathered(mine: dict[Any, Any]) -> dict[Any, Any]:
    """The union of every rank's results (this rank's own in a world of one)."""
    out: dict[Any, Any] = {}
    for part in distributed.gather_objects(mine):
        out.update(part)
    return out


def check_evaluable(model: nn.Module, protocol: Protocol) -> None:
    """Refuse (one error line) a model that :func:`evaluate` would refuse under ``protocol``, without
    evaluating: jobs call it on every model before they create their run directory or train anything."""
    if protocol.certify:
        check_certifiable(model)


def evaluate(model: nn.Module, split: Split, protocol: Protocol, num_classes: int, seed: int = 0,
             batch_size: int = 256, quiet: bool = False, reliability: bool = True,
             lockstep: bool = True) -> EvaluationRecord:
    """Clean measures, every threat model of ``protocol`` at every radius, its corruptions, the worst case,
    HRS and (with ``reliability``) the reliability flags of ``model`` on ``split``.

    ``lockstep`` attacks every (threat model, radius) cell together (see :func:`attack_grid`) and
    answers plain forwards with a frozen copy of the model where that gives the same logits: the
    same numbers as cell after cell, up to float noise, in a fraction of the time.

    Under ``torchrun`` (:mod:`robnas.distributed`) the ranks share the work -- the cells (threat model x
    radius; whole threat models in nested mode) and the corruptions, round robin -- and every rank
    gets the whole record. Each cell's result depends only on the seed, so it is the record of one
    process (to float noise in the confidences, as lockstep's batches differ).
    """
    positive_int("eval", "batch_size", batch_size)
    model.eval()
    check_evaluable(model, protocol)  # an unsupported layer fails before any work
    fast = _inference(model, split, protocol) if lockstep else model
    logits = _logits(fast, split, batch_size)
    correct = logits.argmax(1) == split.labels
    clean = _measures(logits, split.labels, num_classes)
    results: dict[str, ThreatModelResult] = {}
    robust: dict[str, dict[Eps, torch.Tensor]] = {}
    cells = [(tm, eps) for tm in protocol.threat_models for eps in tm.radii]
    with tqdm(total=len(cells), desc="attacks", disable=quiet, leave=False) as bar:
        if protocol.mode == "nested":  # a threat model's radii depend on each other: ranks share threat models
            mine = [protocol.threat_models[i] for i in distributed.my_share(len(protocol.threat_models))]
            nested = _gathered(nested_grid(model, split, tuple(mine), seed, batch_size, lockstep, fast, bar.update)
                               if mine else {})
            runs = [nested[(tm.key, eps)] for tm, eps in cells]
        else:  # every cell is independent: ranks share the cells
            share = distributed.my_share(len(cells))
            done = attack_grid(model, split, [cells[i] for i in share], seed, batch_size, lockstep, fast, bar.update)
            by_cell = _gathered(dict(zip(share, done)))
            runs = [by_cell[i] for i in range(len(cells))]
    for tm in protocol.threat_models:
        result, broken = _threat_model_result(tm, cells, runs, split.labels, num_classes)
        results[tm.key] = result
        for eps, success in broken.items():
            mask = robust.setdefault(tm.norm, {}).setdefault(eps, correct.clone())
            mask &= ~success.to(correct.device)
    worst_case = {norm: {eps: _percent(mask) for eps, mask in per.items()} for norm, per in robust.items()}
    hrs_values = {} if protocol.hrs is None else {
        eps: hrs(clean.accuracy, m.accuracy) for eps, m in results[protocol.hrs].by_eps.items()}
    names = [protocol.corruptions[i] for i in distributed.my_share(len(protocol.corruptions))]
    corrupted = _gathered(evaluate_corruptions(fast, split, tuple(names), protocol.conditions(), num_classes,
                                               seed, batch_size, quiet, protocol.quantize))
    corruptions = {name: corrupted[name] for name in protocol.corruptions}
    certified = certified_accuracy(model, split, protocol, batch_size) if protocol.certify else {}
    record = EvaluationRecord(protocol=protocol.name, n=len(split), clean=clean, threat_models=results,
                              worst_case=worst_case, hrs_key=protocol.hrs, hrs=hrs_values, corruptions=corruptions,
                              mode=protocol.mode, certified=certified)
    if not reliability:
        return record
    idx = torch.arange(min(len(split), PROBE_POINTS), device=split.device)
    flags = probe_flags(model, split.float_images(idx), split.labels[idx], seed) + result_flags(record)
    return replace(record, reliability=tuple(flags))
