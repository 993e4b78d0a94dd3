"""The ``[eval]`` settings: the attack suite of a job (or a named protocol), its corruptions and flags.

:func:`robnas.evaluation.protocol_for` turns them into the :class:`~robnas.evaluation.Protocol` the
engine runs; the search's robust objectives read the same section.
"""

from __future__ import annotations

from dataclasses import dataclass

from robnas.eps import Eps

_8_255 = Eps.parse("8/255")

@dataclass(frozen=True)
class EvalConfig:
    """Attack suite. Defaults: Devaguptapu et al. (eps 8/255, step 2/255, 10 iterations, AutoPGD x10 restarts)."""

    attacks: tuple[str, ...] = ("fgsm", "ffgsm", "pgd", "apgd-ce")
    eps: tuple[Eps, ...] = (_8_255,)
    alpha_ratio: float = 0.25        # PGD/BIM step = alpha_ratio * eps (2/255 at 8/255, as in the paper)
    steps: int = 10
    apgd_steps: int = 100
    apgd_restarts: int = 10
    norm: str = "Linf"
    batch_size: int = 256
    hrs_attack: str = "auto"         # the attack HRS is computed from; auto: pgd as the paper (a pgd-N spelling
                                     # next), else the suite's first attack; none: no HRS
    baseline: str | None = None      # row label of the PP-HRS baseline model
    early_stop: bool = True          # AutoAttack semantics; false = full budget on every point
    protocol: str | None = None      # a named protocol (robnas list protocols) replaces the attack suite
    mode: str | None = None          # independent | nested radii (None: the protocol's own, independent)
    certify: bool = False            # also the certified accuracy at every Linf radius (small inputs; robnas.certify)
    corruptions: tuple[str, ...] = ()  # common corruptions to report (["all"] = the 15 of CIFAR-10-C)
    reliability: bool = True         # probe the model and the results for signs of an unreliable evaluation
