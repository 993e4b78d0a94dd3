"""The one engine: a protocol on a model -> one typed record, the same numbers however it is assembled."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from robnas.attacks.evaluate import evaluate_attack
from robnas.data import Split
from robnas.eps import Eps
from robnas.evaluation import EvaluationRecord, Protocol, ThreatModel, evaluate, evaluate_threat_model, threat_model
from robnas.evaluation.record import row_from_json, row_to_json
from robnas.metrics import hrs

RADII = ("1/255", "0.1", "8/255")


def split_of(digits, n: int = 80) -> Split:
    return Split((digits.x_test[:n] * 255).round().to(torch.uint8), digits.y_test[:n])


def small_protocol(**kwargs) -> Protocol:
    return Protocol("small", (threat_model("fgsm", RADII), threat_model("pgd-3", RADII, norm="Linf"),
                              ThreatModel("square", "Linf", ("8/255",), {"queries": 20})), hrs="pgd-3", **kwargs)


def test_record_measures_worst_case_hrs_and_json(trained_mlp, digits):
    split = split_of(digits)
    record = evaluate(trained_mlp, split, small_protocol(corruptions=("fog",), severities=(1, 3)), 10, seed=2,
                      batch_size=32, quiet=True)
    assert record.protocol == "small" and record.n == 80 and list(record.threat_models) == ["fgsm", "pgd-3", "square"]
    pgd = record.threat_models["pgd-3"]
    assert pgd.attack == "pgd" and pgd.title == "PGD-3" and pgd.radii == tuple(Eps.parse(r) for r in RADII)
    for eps in pgd.radii:
        accs = [t.by_eps[eps].accuracy for t in record.threat_models.values() if eps in t.by_eps]
        assert record.worst_case["Linf"][eps] <= min(accs) <= max(accs) <= record.clean.accuracy
        assert record.hrs[eps] == hrs(record.clean.accuracy, pgd.by_eps[eps].accuracy)
        m = pgd.by_eps[eps]
        assert m.accuracy == 100.0 * round(m.accuracy * 80 / 100) / 80  # an exact count over the 80 points
        assert sum(map(sum, m.cm)) == 80 and m.queries > 0 and m.seconds >= 0 and m.cumulative is None
    assert list(record.corruptions) == ["fog"] and list(record.corruptions["fog"]) == [1, 3]
    assert record.reliability is not None and not record.shares_radii()
    text = json.dumps(record.to_json())
    assert EvaluationRecord.from_json(json.loads(text)) == record
    data = json.loads(text)
    assert list(data["threat_models"]["pgd-3"]["radii"]) == ["1/255", "25.5/255", "8/255"]
    assert list(data["worst_case"]["Linf"]) == ["1/255", "25.5/255", "8/255"] and data["hrs"]["key"] == "pgd-3"
    row = {"label": "mlp", "params": 10, "evaluation": record}
    assert row_from_json(json.loads(json.dumps(row_to_json(row)))) == row


@pytest.mark.parametrize("lockstep", [False, True])
def test_a_threat_model_is_seeded_per_radius_like_a_single_attack(trained_mlp, digits, lockstep):
    split = split_of(digits, 50)
    tm = ThreatModel("pgd", "Linf", RADII, {"steps": 3})
    result, broken = evaluate_threat_model(trained_mlp, split, tm, 10, seed=7, batch_size=16, lockstep=lockstep)
    for eps in tm.radii:
        alone = evaluate_attack(trained_mlp, tm.create(eps, 7), split.images, split.labels, batch_size=16)
        assert torch.equal(broken[eps], alone.success)
        assert result.by_eps[eps].accuracy == 100.0 * int((~alone.success).sum()) / 50
        # In lockstep the radii share batches: the same points and decisions, logits up to float noise.
        assert result.by_eps[eps].confidence == pytest.approx(alone.mean_confidence, rel=0 if not lockstep else 1e-6)


def test_numbers_do_not_depend_on_the_other_threat_models_or_their_order(trained_mlp, digits):
    split = split_of(digits, 50)
    protocol = small_protocol()
    full = evaluate(trained_mlp, split, protocol, 10, seed=1, quiet=True, reliability=False)
    reverse = evaluate(trained_mlp, split, replace(protocol, threat_models=protocol.threat_models[::-1]), 10, seed=1,
                       quiet=True, reliability=False)
    alone = evaluate(trained_mlp, split, Protocol("one", protocol.threat_models[1:2]), 10, seed=1, quiet=True,
                     reliability=False)

    def measures(record):
        return {k: {e: (m.accuracy, m.confidence, m.cm) for e, m in t.by_eps.items()}
                for k, t in record.threat_models.items()}

    assert measures(full) == measures(reverse) and measures(alone)["pgd-3"] == measures(full)["pgd-3"]
    assert full.worst_case == reverse.worst_case and alone.reliability is None


def test_composites_record_the_cumulative_accuracy(trained_mlp, digits):
    split = split_of(digits, 40)
    tm = ThreatModel("autoattack", "Linf", ("8/255",), {"steps": 4, "n_target_classes": 2, "queries": 10})
    record = evaluate(trained_mlp, split, Protocol("aa", (tm,)), 10, quiet=True)
    run = record.threat_models["autoattack"].by_eps[Eps.parse("8/255")]
    assert list(run.cumulative) == ["apgd-ce", "apgd-t", "fab-t", "square"]
    assert list(run.cumulative.values())[-1] == run.accuracy and record.shares_radii()


def test_nested_radii_carry_broken_points_and_attack_only_the_rest(trained_mlp, digits):
    split = split_of(digits, 60)
    radii = ("8/255", "1/255", "24/255", "4/255")  # any order: nested walks them increasingly
    tms = (threat_model("fgsm", radii), threat_model("bim", radii, steps=3))
    independent = evaluate(trained_mlp, split, Protocol("p", tms), 10, quiet=True, reliability=False)
    nested = evaluate(trained_mlp, split, Protocol("p", tms, mode="nested"), 10, quiet=True, reliability=False)
    assert nested.mode == "nested" and independent.mode == "independent"
    assert EvaluationRecord.from_json(json.loads(json.dumps(nested.to_json()))) == nested
    ordered = sorted(Eps.parse(r) for r in radii)
    for key in ("fgsm", "bim"):
        accs = [nested.threat_models[key].by_eps[e].accuracy for e in ordered]
        assert accs == sorted(accs, reverse=True)  # monotone in the radius
        for e in ordered:  # deterministic attacks: never above the independent result
            assert nested.threat_models[key].by_eps[e].accuracy <= independent.threat_models[key].by_eps[e].accuracy
            assert sum(map(sum, nested.threat_models[key].by_eps[e].cm)) == 60
        queries = [nested.threat_models[key].by_eps[e].queries for e in ordered]
        full = [independent.threat_models[key].by_eps[e].queries for e in ordered]
        assert sum(queries) < sum(full)  # broken points were not attacked again
    # FGSM is deterministic and per-point: nested broken at r_k = broken alone at any radius <= r_k.
    union = torch.zeros(60, dtype=torch.bool)
    for e in ordered:
        union |= evaluate_attack(trained_mlp, tms[0].create(e, 0), split.images, split.labels).success
        assert nested.threat_models["fgsm"].by_eps[e].accuracy == 100.0 * int((~union).sum()) / 60


def test_an_unknown_mode_is_one_clear_error():
    with pytest.raises(Exception, match="mode must be one of independent, nested"):
        Protocol("p", (threat_model("fgsm", ("1/255",)),), mode="cumulative")


def test_certified_accuracy_is_a_lower_bound_next_to_the_attacks(trained_mlp, digits):
    split = split_of(digits, 40)
    protocol = Protocol("c", (threat_model("fgsm", RADII), threat_model("pgd-5", RADII)), certify=True)
    record = evaluate(trained_mlp, split, protocol, 10, quiet=True, reliability=False)
    assert list(record.certified) == ["Linf"] and set(record.certified["Linf"]) == {Eps.parse(r) for r in RADII}
    for eps, proven in record.certified["Linf"].items():
        assert proven <= record.worst_case["Linf"][eps]  # no attack breaks a proven point
    assert record.certified["Linf"][Eps.parse("1/255")] > 50  # small radii are provable on this MLP
    assert EvaluationRecord.from_json(json.loads(json.dumps(record.to_json()))) == record
    assert "certify" not in Protocol("c", protocol.threat_models).to_dict()  # identity of older benchmarks kept


def test_certify_refuses_a_model_it_cannot_bound_before_any_work(digits):
    model = torch.nn.Sequential(torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(16, 10))
    with pytest.raises(Exception, match="MaxPool2d"):
        evaluate(model, split_of(digits, 10), Protocol("c", (threat_model("fgsm", RADII),), certify=True), 10,
                 quiet=True)
