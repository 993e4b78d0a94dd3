"""The one record an evaluation returns (:func:`robnas.evaluation.evaluate`), and its JSON form.

An :class:`EvaluationRecord` holds, for one model under one protocol: the clean measures; per
threat-model key and per radius (:class:`robnas.eps.Eps`) the robustness dataset's three measures
(accuracy in percent, mean confidence, confusion matrix) with time, queries and, for composites,
the robust accuracy after each member; per corruption and severity the same three measures; the
point-wise worst case per norm and radius over the protocol's threat models; HRS from the
protocol's HRS threat model; and the reliability flags. Reports, the robustness-dataset layout and
the reliability checks read it.

``to_json()`` keys radii by their label (``"8/255"``) and ``from_json()`` parses them back exactly,
so ``EvaluationRecord.from_json(record.to_json()) == record``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from robnas.eps import Eps


@dataclass(frozen=True)
class Flag:
    """One reliability warning: a stable ``name`` for programs and a sentence for people."""

    name: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Measures:
    """The robustness dataset's measures of one set of (clean, attacked or corrupted) images."""

    accuracy: float                  # percent
    confidence: float                # mean max-softmax probability
    cm: list[list[int]]              # confusion matrix, counts [true][predicted]
    points: str | None = None        # which points were classified correctly: packed bits as hex (see pack_points)

    def to_json(self) -> dict[str, Any]:
        out = {"accuracy": self.accuracy, "confidence": self.confidence, "cm": self.cm}
        if self.points is not None:
            out["points"] = self.points
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Measures:
        return cls(accuracy=data["accuracy"], confidence=data["confidence"], cm=data["cm"], points=data.get("points"))

    def correct(self, n: int) -> np.ndarray:
        """Bool ``[n]``: which of the ``n`` evaluated points were classified correctly."""
        if self.points is None:
            raise ValueError("these measures keep no per-point outcomes")
        return unpack_points_hex(self.points, n)


def pack_points_hex(correct: np.ndarray) -> str:
    """Per-point outcomes (bool ``[n]``) as the hex of their packed bits (little bit order): n/4 characters,
    so a record can carry them in JSON and two models can be compared point by point (McNemar)."""
    return np.packbits(np.asarray(correct, dtype=bool), bitorder="little").tobytes().hex()


def unpack_points_hex(text: str, n: int) -> np.ndarray:
    """The bool ``[n]`` outcomes of :func:`pack_points_hex`."""
    return np.unpackbits(np.frombuffer(bytes.fromhex(text), dtype=np.uint8), count=n, bitorder="little").astype(bool)


@dataclass(frozen=True)
class AttackMeasures(Measures):
    """Measures under one threat model at one radius, with the attack's cost."""

    seconds: float = 0.0
    queries: int = 0
    cumulative: dict[str, float] | None = None   # composites: robust accuracy (%) after each member, in order

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {**super().to_json(), "seconds": self.seconds, "queries": self.queries}
        if self.cumulative is not None:
            out["cumulative"] = self.cumulative
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AttackMeasures:
        return cls(accuracy=data["accuracy"], confidence=data["confidence"], cm=data["cm"], points=data.get("points"),
                   seconds=data["seconds"], queries=data["queries"], cumulative=data.get("cumulative"))


@dataclass(frozen=True)
class ThreatModelResult:
    """One threat model's measures at each of its radii (in the protocol's order)."""

    key: str                         # the protocol's result key ("pgd", "aa_apgd-ce@Linf")
    attack: str                      # registered attack name
    norm: str
    title: str                       # for reports ("PGD-20")
    by_eps: dict[Eps, AttackMeasures]

    @property
    def radii(self) -> tuple[Eps, ...]:
        return tuple(self.by_eps)

    def to_json(self) -> dict[str, Any]:
        return {"attack": self.attack, "norm": self.norm, "title": self.title,
                "radii": {eps.label: m.to_json() for eps, m in self.by_eps.items()}}

    @classmethod
    def from_json(cls, key: str, data: dict[str, Any]) -> ThreatModelResult:
        return cls(key=key, attack=data["attack"], norm=data["norm"], title=data["title"],
                   by_eps={Eps.parse(label): AttackMeasures.from_json(m) for label, m in data["radii"].items()})


@dataclass(frozen=True)
class EvaluationRecord:
    """Everything one evaluation of one model measured (accuracies in percent)."""

    protocol: str
    n: int                                                   # evaluated points
    clean: Measures
    threat_models: dict[str, ThreatModelResult]              # by key, in the protocol's order
    worst_case: dict[str, dict[Eps, float]]                  # norm -> radius -> % robust to every threat model there
    hrs_key: str | None = None                               # the threat model HRS is computed from
    hrs: dict[Eps, float] = field(default_factory=dict)
    corruptions: dict[str, dict[int, Measures]] = field(default_factory=dict)   # name -> severity -> measures
    reliability: tuple[Flag, ...] | None = None              # None: not checked
    mode: str = "independent"                                # how radii relate (Protocol.mode)
    certified: dict[str, dict[Eps, float]] = field(default_factory=dict)  # norm -> radius -> % proven robust

    def shares_radii(self) -> bool:
        """Whether every threat model has the same norm and radii: a Table 1 layout (a column per attack)
        rather than a grid (a table per threat model, as the robustness dataset of Jung et al.)."""
        shapes = {(t.norm, t.radii) for t in self.threat_models.values()}
        return len(shapes) <= 1

    def radii(self) -> tuple[Eps, ...]:
        """Every radius of the record, in first-seen order."""
        return tuple(dict.fromkeys(eps for t in self.threat_models.values() for eps in t.by_eps))

    def corruption_means(self) -> dict[str, float]:
        """Each corruption's accuracy averaged over its severities."""
        return {name: sum(m.accuracy for m in per.values()) / len(per) for name, per in self.corruptions.items()}

    def mean_corruption_accuracy(self) -> float:
        """The mean over corruptions of their mean accuracy (mCA); 0 without corruptions."""
        means = self.corruption_means()
        return sum(means.values()) / len(means) if means else 0.0

    def robustness_layout(self) -> tuple[dict[str, dict[str, Any]], dict[str, list[float]], dict[str, list[int]]]:
        """The robustness dataset's view: ``{key: {measure: value}}`` (``clean``: a number per measure; a
        threat model or corruption: a list over its radii or severities), the radii of each threat model
        in 1/255 units, and the severities of each corruption."""
        measures = ("accuracy", "confidence", "cm")
        results: dict[str, dict[str, Any]] = {"clean": self.clean.to_json()}
        epsilons = {}
        for key, t in self.threat_models.items():
            results[key] = {m: [getattr(v, m) for v in t.by_eps.values()] for m in measures}
            epsilons[key] = [_number(eps.in_255) for eps in t.by_eps]
        for name, per in self.corruptions.items():
            results[name] = {m: [getattr(v, m) for v in per.values()] for m in measures}
        return results, epsilons, {name: list(per) for name, per in self.corruptions.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "mode": self.mode,
            "n": self.n,
            "certified": {norm: {eps.label: acc for eps, acc in per.items()} for norm, per in self.certified.items()},
            "clean": self.clean.to_json(),
            "threat_models": {key: t.to_json() for key, t in self.threat_models.items()},
            "worst_case": {norm: {eps.label: acc for eps, acc in per.items()} for norm, per in self.worst_case.items()},
            "hrs": None if self.hrs_key is None else {"key": self.hrs_key,
                                                      "radii": {eps.label: v for eps, v in self.hrs.items()}},
            "corruptions": {name: {str(s): m.to_json() for s, m in per.items()} for name, per in self.corruptions.items()},
            "reliability": None if self.reliability is None else [f.to_dict() for f in self.reliability],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvaluationRecord:
        hrs = data.get("hrs")
        flags = data.get("reliability")
        return cls(
            protocol=data["protocol"],
            n=data["n"],
            clean=Measures.from_json(data["clean"]),
            threat_models={key: ThreatModelResult.from_json(key, t) for key, t in data["threat_models"].items()},
            worst_case={norm: {Eps.parse(label): acc for label, acc in per.items()}
                        for norm, per in data["worst_case"].items()},
            hrs_key=None if hrs is None else hrs["key"],
            hrs={} if hrs is None else {Eps.parse(label): v for label, v in hrs["radii"].items()},
            corruptions={name: {int(s): Measures.from_json(m) for s, m in per.items()}
                         for name, per in data.get("corruptions", {}).items()},
            reliability=None if flags is None else tuple(Flag(**f) for f in flags),
            mode=data.get("mode", "independent"),
            certified={norm: {Eps.parse(label): acc for label, acc in per.items()}
                       for norm, per in data.get("certified", {}).items()},
        )


def _number(value: float) -> float | int:
    """Whole radii as integers in the dataset's JSON (``[1, 8, 255]``), others as floats (``0.5``)."""
    return int(value) if value.is_integer() else value


# A report row is a model's description (label, params, ...) with its record under "evaluation".

def row_to_json(row: dict[str, Any]) -> dict[str, Any]:
    """A report row as JSON (``results.json``, the per-model files a resumed run reads back)."""
    return {**{k: v for k, v in row.items() if k != "evaluation"}, "evaluation": row["evaluation"].to_json()}


def row_from_json(data: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`row_to_json`."""
    return {**data, "evaluation": EvaluationRecord.from_json(data["evaluation"])}
