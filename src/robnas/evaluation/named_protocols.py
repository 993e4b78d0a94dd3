"""The named evaluation protocols of the papers, and the ad-hoc protocol of the ``[eval]`` settings.

* ``devaguptapu`` -- Table 1 of Devaguptapu et al.;
* ``jung`` -- the grid of the NAS-Bench-201 robustness dataset (Jung et al.), keyed as the dataset is;
* ``advrush`` -- Table 1 of AdvRush (Mok et al.);
* ``rnas`` -- the Linf attacks of RNAS' Table 1.

Each protocol's ``description`` says what the paper fixes and what we chose where it is silent.
:func:`protocol_for` turns the ``[eval]`` section of a config into a protocol: a named one
(``eval.protocol``) or the ad-hoc attack suite of ``eval.attacks`` at ``eval.eps``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from robnas.attacks import ATTACKS, split_steps
from robnas.corruptions import list_corruptions
from robnas.eps import Eps
from robnas.errors import InvalidValueError
from robnas.evaluation.protocol import Protocol, ThreatModel, get_protocol, register_protocol, threat_model

_8_255 = (Eps.parse("8/255"),)

register_protocol(Protocol(
    name="devaguptapu",
    threat_models=(threat_model("fgsm", _8_255), threat_model("ffgsm", _8_255),
                   threat_model("pgd", _8_255, steps=10),
                   threat_model("apgd-ce", _8_255, steps=100, restarts=10)),
    hrs="pgd",
    description="Table 1 of Devaguptapu et al.: FGSM, F-FGSM (step 1.25 eps), PGD (10 steps of eps/4 = 2/255) "
                "and AutoPGD (APGD-CE, 100 iterations, 10 restarts), Linf eps 8/255; HRS from PGD.",
))


def _in_255(*radii: float) -> tuple[Eps, ...]:
    return tuple(Eps.from_255(r) for r in radii)


def jung_grid(fgsm: tuple[Eps, ...], others: tuple[Eps, ...], apgd_steps: int, square_queries: int,
              ) -> tuple[ThreatModel, ...]:
    """The four threat models of Jung et al.'s grid under the robustness dataset's keys: FGSM at ``fgsm``;
    PGD (10 steps of eps/4), APGD-CE (1 restart) and Square (AutoAttack's schedule) at ``others``."""
    return (ThreatModel("fgsm", "Linf", fgsm, key="fgsm@Linf"),
            ThreatModel("pgd", "Linf", others, {"steps": 10}, key="pgd@Linf"),
            ThreatModel("apgd-ce", "Linf", others, {"steps": apgd_steps, "restarts": 1}, key="aa_apgd-ce@Linf",
                        title="APGD-CE"),
            ThreatModel("square", "Linf", others, {"queries": square_queries, "rescale_schedule": False},
                        key="aa_square@Linf"))


_JUNG_FGSM = (0.1, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 255)
_JUNG_OTHERS = (0.1, 0.5, 1, 2, 3, 4, 8)

register_protocol(Protocol(
    name="jung",
    threat_models=jung_grid(_in_255(*_JUNG_FGSM), _in_255(*_JUNG_OTHERS), apgd_steps=100, square_queries=5000),
    quantize=True,
    description="The NAS-Bench-201 robustness dataset of Jung et al. (section 2.2): FGSM at 11 Linf radii "
                "(0.1 ... 8 and 255 in 1/255), PGD, APGD-CE and Square at 7 (0.1 ... 4 and 8); APGD-CE keeps "
                "AutoAttack's 100 iterations and 1 restart, Square its 5000 queries without the rescaled p "
                "schedule, as AutoAttack's standard version. The paper does not state PGD's iterations or "
                "step: 10 steps of eps/4 (Devaguptapu et al.'s setting). Keys are the dataset's. Corruptions "
                "(with --corruptions) are quantised to 8 bits as CIFAR-10-C stores them.",
))

# The digits benchmark's grid: the Jung grid's radii times 4 (the 8x8 digits networks are far more robust than
# CIFAR-10 ones at the same radius: PGD at 8/255 leaves a median architecture about 70% accurate, at 32/255 about
# 10%), the same four attacks with smaller budgets, and the 15 corruptions x 5 severities.
DIGITS_SCALE = 4

register_protocol(Protocol(
    name="jung-digits",
    threat_models=jung_grid(_in_255(*(r * DIGITS_SCALE if r != 255 else r for r in _JUNG_FGSM)),
                            _in_255(*(r * DIGITS_SCALE for r in _JUNG_OTHERS)), apgd_steps=20, square_queries=100),
    corruptions=tuple(list_corruptions()),
    quantize=True,
    description="The shipped digits benchmark's grid: Jung et al.'s attacks and keys at their radii times 4 "
                "(FGSM 0.4 ... 32 and 255 in 1/255; PGD, APGD-CE, Square 0.4 ... 16 and 32), so that the largest "
                "radius leaves a median architecture well below 50% accurate on 8x8 digits; budgets cut to fit "
                "6466 architectures on two CPU cores: PGD 10 steps of eps/4, APGD-CE 20 iterations x 1 restart "
                "(AutoAttack: 100), Square 100 queries (AutoAttack: 5000); the 15 CIFAR-10-C corruptions x 5 "
                "severities, quantised to 8 bits.",
))

_ADVRUSH = (Eps.parse("0.031"),)

register_protocol(Protocol(
    name="advrush",
    threat_models=(threat_model("fgsm", _ADVRUSH), threat_model("pgd-20", _ADVRUSH), threat_model("pgd-100", _ADVRUSH),
                   threat_model("apgd-ce", _ADVRUSH, steps=100, restarts=1), threat_model("autoattack", _ADVRUSH)),
    hrs="pgd-20",
    description="Table 1 of AdvRush (Mok et al.): FGSM, PGD-20, PGD-100, APGD-CE and AutoAttack (standard: "
                "APGD-CE, APGD-T, FAB-T, Square), all Linf eps 0.031. APGD-CE runs as in AutoAttack's standard "
                "version (100 iterations, 1 restart). The paper does not state PGD's evaluation step: eps/4 "
                "(0.00775, Devaguptapu et al.'s ratio; its PGD-7 training uses 0.01). HRS from PGD-20.",
))

register_protocol(Protocol(
    name="rnas",
    threat_models=(threat_model("fgsm", _8_255), threat_model("pgd-20", _8_255), threat_model("autoattack", _8_255)),
    hrs="pgd-20",
    description="The Linf attacks of RNAS' Table 1: FGSM, PGD-20 (step 2/255 = eps/4) and AutoAttack (standard) "
                "at eps 8/255. RNAS' fourth attack, C&W (c = 0.5, 100 iterations), is an unbounded L2 "
                "minimum-norm attack: it has no radius to share with these Linf threat models, so it is not "
                "part of the protocol; run it on its own with `robnas eval --attacks cw --norm L2 --eps R` "
                "(bounded at R) or `create_attack(\"cw\")` (unbounded, as the paper).",
))


@dataclass(frozen=True)
class SuiteSettings:
    """How the ``[eval]`` settings configure an attack of the ad-hoc suite (Devaguptapu et al.'s defaults).

    An attack whose step follows the radius (a ``radius_rules`` entry for ``alpha``: PGD, BIM) takes
    ``steps`` iterations of ``alpha_ratio * eps``; APGD-CE takes ``apgd_steps`` and ``apgd_restarts``;
    a spelling such as ``pgd-100`` sets the iterations itself; every attack gets ``early_stop``.
    """

    norm: str = "Linf"
    steps: int = 10
    alpha_ratio: float = 0.25
    apgd_steps: int = 100
    apgd_restarts: int = 10
    early_stop: bool = True

    @classmethod
    def of(cls, settings: Any) -> SuiteSettings:
        """The settings of an ``[eval]`` section (any object with these attributes)."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    def threat_model(self, spelling: str, radii: tuple[Eps | str | float, ...]) -> ThreatModel:
        name = split_steps(spelling)[0]
        params: dict[str, Any] = {"early_stop": self.early_stop}
        rules = {}
        if "alpha" in ATTACKS.get(name).radius_rules:
            rules["alpha"] = self.alpha_ratio
            params["steps"] = self.steps
        elif name == "apgd-ce":  # the apgd_* settings are named after it
            params.update(steps=self.apgd_steps, restarts=self.apgd_restarts)
        return threat_model(spelling, radii, self.norm, rules=rules, **params)


#: ``eval.hrs_attack`` values that name no attack: pick one of the suite's, or compute no HRS.
AUTO_HRS, NO_HRS = "auto", "none"


def hrs_attack_of(attacks: tuple[str, ...], wanted: str | None) -> str | None:
    """The attack of the suite HRS is computed from.

    ``auto``: PGD as Devaguptapu et al. (``pgd``, else a ``pgd-N`` spelling), else the suite's first attack,
    so that a suite without PGD still gets its HRS, named in the record (``hrs_key``); ``none`` (or None):
    no HRS; an attack's name is taken as given (:class:`Protocol` refuses one that is not in the suite)."""
    if wanted is None or wanted.lower() == NO_HRS:
        return None
    if wanted.lower() != AUTO_HRS:
        return wanted
    pgd = [a for a in attacks if a == "pgd"] + [a for a in attacks if split_steps(a)[0] == "pgd"]
    return (pgd or list(attacks))[0]


def suite_protocol(attacks: tuple[str, ...], radii: tuple[Eps | str | float, ...], settings: SuiteSettings,
                   hrs_attack: str | None = None, corruptions: tuple[str, ...] = ()) -> Protocol:
    """The ad-hoc protocol: every attack spelling at every radius, configured by ``settings``; HRS from
    ``hrs_attack`` (see :func:`hrs_attack_of`)."""
    if not attacks:
        raise InvalidValueError("the attack suite is empty; give at least one attack, e.g. --attacks pgd")
    hrs = hrs_attack_of(tuple(attacks), hrs_attack)
    # Only a fallback is described: a suite with PGD keeps the description (and a benchmark its identity).
    note = f"; HRS from {hrs} (no PGD in the suite)" if hrs and split_steps(hrs)[0] != "pgd" and \
        (hrs_attack or "").lower() == AUTO_HRS else ""
    return Protocol(name="custom", threat_models=tuple(settings.threat_model(a, tuple(radii)) for a in attacks),
                    corruptions=corruptions, hrs=hrs,
                    description=f"{', '.join(attacks)} at eps {', '.join(Eps.parse(r).label for r in radii)} "
                                f"({settings.norm}){note}")


def corruption_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """Corruption names with ``all`` expanded to the 15 of CIFAR-10-C (in their order)."""
    return tuple(list_corruptions()) if "all" in names else tuple(names)


def protocol_for(settings: Any) -> Protocol:
    """The protocol an ``[eval]`` section asks for, validated (before any work): the named ``protocol``,
    with the section's corruptions when it lists some, else the ad-hoc suite of ``attacks`` at ``eps``."""
    if settings.batch_size < 1:
        raise InvalidValueError("eval.batch_size must be >= 1")
    corruptions = corruption_names(tuple(settings.corruptions))
    if settings.protocol is not None:
        named = get_protocol(settings.protocol)
        protocol = named.with_corruptions(corruptions) if corruptions else named
    else:
        protocol = suite_protocol(tuple(settings.attacks), tuple(settings.eps), SuiteSettings.of(settings),
                                  hrs_attack=settings.hrs_attack, corruptions=corruptions)
    mode = getattr(settings, "mode", None)
    protocol = protocol if mode is None else replace(protocol, mode=mode)
    return replace(protocol, certify=True) if getattr(settings, "certify", False) else protocol
