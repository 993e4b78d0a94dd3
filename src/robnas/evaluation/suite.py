"""Run an attack suite (attacks x epsilons) on one model and collect the measures of the papers.

Each attack starts from the clean input; the point-wise worst case over all attacks at an
epsilon is reported next to the individual attacks, so a robust accuracy in the report is one
that survived every attack in the suite.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from robnas.attacks import ATTACKS, create_attack, list_attacks
from robnas.attacks.evaluate import evaluate_attack
from robnas.config.schema import EvalConfig
from robnas.data import Split, iterate_batches
from robnas.errors import InvalidValueError
from robnas.evaluation.reliability import PROBE_POINTS, probe_flags, result_flags
from robnas.metrics import confusion_matrix, hrs, mean_confidence

# Column titles of Table 1 of Devaguptapu et al.
ATTACK_TITLES = {"fgsm": "FGSM", "ffgsm": "F-FGSM", "rfgsm": "R-FGSM", "bim": "BIM", "pgd": "PGD",
                 "apgd-ce": "AutoPGD", "apgd-dlr": "APGD-DLR", "apgd-t": "APGD-T", "fab-t": "FAB-T",
                 "square": "Square", "autoattack": "AutoAttack", "cw": "C&W", "deepfool": "DeepFool",
                 "mifgsm": "MI-FGSM"}
_ITERATIVE = ("pgd", "bim")


def split_steps(name: str) -> tuple[str, int | None]:
    """``"pgd-100"`` -> ``("pgd", 100)``: an iterative attack with its own iteration count (AdvRush reports
    PGD-20 and PGD-100 side by side); any other name -> ``(name, None)``."""
    base, dash, tail = name.rpartition("-")
    if dash and base in _ITERATIVE and tail.isdigit() and int(tail) > 0:
        return base, int(tail)
    return name, None


def eps_label(eps: float) -> str:
    """8/255-style label when eps is a multiple of 1/(10*255), else the decimal value."""
    scaled = Fraction(eps * 255).limit_denominator(10)
    if abs(float(scaled) / 255 - eps) < 1e-9:
        return f"{float(scaled):g}/255"
    return f"{eps:g}"


def attack_params(name: str, eps: float, cfg: EvalConfig, seed: int) -> dict[str, Any]:
    """The paper's settings for ``name`` at ``eps`` (step = alpha_ratio * eps; AutoPGD's own schedule)."""
    name, steps = split_steps(name)
    params: dict[str, Any] = {"eps": eps, "seed": seed, "early_stop": cfg.early_stop}
    if len(ATTACKS.get(name).norms) > 1:  # single-norm attacks (FGSM family) take no norm parameter
        params["norm"] = cfg.norm
    if name in _ITERATIVE:
        params.update(alpha=cfg.alpha_ratio * eps, steps=steps or cfg.steps)
    elif name == "apgd-ce":
        params.update(steps=cfg.apgd_steps, restarts=cfg.apgd_restarts)
    return params


def check_suite(cfg: EvalConfig) -> None:
    """Validate names and values before anything is computed or written."""
    known = set(list_attacks())
    for name in (split_steps(a)[0] for a in cfg.attacks):
        if name not in known:
            create_attack(name)  # raises the registry's one-line UnknownNameError
        if ATTACKS.get(name).norms == ("L0",):
            raise InvalidValueError(f"attack {name!r} is an L0 (pixel budget) attack and the suite's eps are "
                                    "Linf/L2 radii; use it through `robnas advset build` or the Python API")
        if cfg.norm not in ATTACKS.get(name).norms:
            raise InvalidValueError(f"attack {name!r} supports {' and '.join(ATTACKS.get(name).norms)}, not "
                                    f"--norm {cfg.norm}; drop it or change the norm")
    for eps in cfg.eps:
        if eps < 0:
            raise InvalidValueError(f"epsilon must be >= 0, got {eps}; write it like 8/255")
    if cfg.hrs_attack not in cfg.attacks:
        raise InvalidValueError(f"HRS attack {cfg.hrs_attack!r} is not in the suite {list(cfg.attacks)}; add it")
    if cfg.batch_size < 1:
        raise InvalidValueError("eval.batch_size must be >= 1")


def _percent(mask: torch.Tensor) -> float:
    """Exact percentage of True entries (integer count / n: comparable across attacks without float noise)."""
    return 100.0 * int(mask.sum().item()) / max(mask.numel(), 1)


@torch.no_grad()
def _clean_logits(model: nn.Module, split: Split, batch_size: int) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x) for x, _ in iterate_batches(split, batch_size)])


def evaluate_model(model: nn.Module, split: Split, cfg: EvalConfig, num_classes: int,
                   seed: int = 0, quiet: bool = False) -> dict[str, Any]:
    """Clean accuracy and every (attack, eps) of the suite on ``split``; accuracies in percent."""
    check_suite(cfg)
    model.eval()
    logits = _clean_logits(model, split, cfg.batch_size)
    correct = logits.argmax(1) == split.labels
    record: dict[str, Any] = {
        "n": len(split),
        "clean": {"accuracy": _percent(correct),
                  "confidence": mean_confidence(logits),
                  "cm": confusion_matrix(logits.argmax(1), split.labels, num_classes)},
        "attacks": {},
        "worst_case": {},
    }
    jobs = [(eps, name) for eps in cfg.eps for name in cfg.attacks]
    robust_all = {eps_label(eps): correct.clone() for eps in cfg.eps}
    for eps, name in tqdm(jobs, desc="attacks", disable=quiet, leave=False):
        attack = create_attack(split_steps(name)[0], **attack_params(name, eps, cfg, seed))
        res = evaluate_attack(model, attack, split.images, split.labels, batch_size=cfg.batch_size)
        key = eps_label(eps)
        robust_all[key] &= ~res.success.to(correct.device)
        entry = record["attacks"].setdefault(name, {})[key] = {
            "accuracy": _percent(~res.success),
            "confidence": res.mean_confidence,
            "cm": confusion_matrix(res.adv_pred, split.labels, num_classes),
            "seconds": res.seconds,
            "queries": res.queries,
        }
        if res.report is not None:  # composites (AutoAttack): robust accuracy after each member, exact percentages
            entry["cumulative"] = {member: 100.0 * count / max(res.report.n, 1)
                                   for member, count in zip(res.report.members, res.report.robust)}
    for key, robust in robust_all.items():
        record["worst_case"][key] = _percent(robust)
    clean = record["clean"]["accuracy"]
    record["hrs"] = {key: hrs(clean, runs["accuracy"]) for key, runs in record["attacks"][cfg.hrs_attack].items()}
    record["hrs_attack"] = cfg.hrs_attack
    if cfg.reliability:
        idx = torch.arange(min(len(split), PROBE_POINTS), device=split.device)
        flags = probe_flags(model, split.float_images(idx), split.labels[idx], seed) + result_flags(record)
        record["reliability"] = [flag.to_dict() for flag in flags]
    return record
