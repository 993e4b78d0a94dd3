"""Robustness evaluation of a trained model: one engine runs a protocol and returns one typed record.

* :mod:`~robnas.evaluation.protocol` -- :class:`ThreatModel`, :class:`Protocol`, the protocol registry;
* :mod:`~robnas.evaluation.named_protocols` -- the named protocols (devaguptapu, jung, advrush, rnas) and the
  ad-hoc protocol of the ``[eval]`` settings (:func:`protocol_for`);
* :mod:`~robnas.evaluation.engine` -- :func:`evaluate` (model, split, protocol) -> :class:`EvaluationRecord`,
  and :func:`check_evaluable` (what it would refuse, checked before any work);
* :mod:`~robnas.evaluation.record` -- the record and its JSON form;
* :mod:`~robnas.evaluation.row_store` -- a model's row evaluated and kept in a run directory (the unit of resume);
* :mod:`~robnas.evaluation.reliability` -- flags read off the model and the record.
"""

from robnas.evaluation.engine import check_evaluable, evaluate, evaluate_threat_model
from robnas.evaluation.protocol import (PROTOCOLS, Protocol, ThreatModel, get_protocol, list_protocols,
                                        register_protocol, threat_model)
from robnas.evaluation.named_protocols import SuiteSettings, protocol_for, suite_protocol
from robnas.evaluation.record import AttackMeasures, EvaluationRecord, Flag, Measures, ThreatModelResult

__all__ = ["check_evaluable", "evaluate", "evaluate_threat_model", "PROTOCOLS", "Protocol", "ThreatModel",
           "get_protocol", "list_protocols", "register_protocol", "threat_model", "SuiteSettings", "protocol_for",
           "suite_protocol", "AttackMeasures", "EvaluationRecord", "Flag", "Measures", "ThreatModelResult"]
