"""Protocols as data: the named protocols of the papers, the [eval] suite, and their validation."""

from __future__ import annotations

from fractions import Fraction

import pytest

from robnas.corruptions import list_corruptions

from robnas.pipeline.config import EvalConfig
from robnas.eps import Eps
from robnas.errors import InvalidValueError, UnknownNameError
from robnas.evaluation import Protocol, ThreatModel, get_protocol, list_protocols, protocol_for, threat_model
from robnas.registry import registry

EIGHT = Eps.parse("8/255")


def test_named_protocols_are_registered_and_listed():
    assert list_protocols() == ["advrush", "devaguptapu", "jung", "jung-digits", "rnas"] == registry("protocols").names()
    for name in list_protocols():
        protocol = get_protocol(name)
        assert protocol.name == name and protocol.description and protocol.mode == "independent"
        assert protocol.severities == (1, 2, 3, 4, 5)
        assert protocol.corruptions == (() if name != "jung-digits" else tuple(list_corruptions()))
    assert get_protocol("jung").quantize and get_protocol("jung-digits").quantize
    assert not get_protocol("devaguptapu").quantize


def test_the_digits_grid_is_the_jung_grid_at_four_times_the_radii():
    jung, digits = get_protocol("jung"), get_protocol("jung-digits")
    assert [t.key for t in jung.threat_models] == [t.key for t in digits.threat_models]
    for a, b in zip(jung.threat_models, digits.threat_models):
        assert [4 * e.value if e.in_255 != 255 else e.value for e in a.radii] == [e.value for e in b.radii]


def test_devaguptapu_is_table_1():
    p = get_protocol("devaguptapu")
    assert [(t.key, t.title) for t in p.threat_models] == [("fgsm", "FGSM"), ("ffgsm", "F-FGSM"), ("pgd", "PGD"),
                                                           ("apgd-ce", "AutoPGD")]
    assert all(t.radii == (EIGHT,) and t.norm == "Linf" for t in p.threat_models) and p.hrs == "pgd"
    pgd, apgd = p.threat_model("pgd").create(EIGHT, 0), p.threat_model("apgd-ce").create(EIGHT, 0)
    assert (pgd.alpha, pgd.steps, apgd.steps, apgd.restarts) == (2 / 255, 10, 100, 10)
    assert p.threat_model("ffgsm").create(EIGHT, 0).alpha == 1.25 * 8 / 255


def test_the_default_eval_section_is_devaguptapu():
    named, suite = get_protocol("devaguptapu"), protocol_for(EvalConfig())
    assert [t.key for t in suite.threat_models] == [t.key for t in named.threat_models] and suite.hrs == named.hrs
    for a, b in zip(suite.threat_models, named.threat_models):
        assert a.parameters(EIGHT, 5) == {**b.parameters(EIGHT, 5), "early_stop": True}


def test_advrush_protocol():
    p = get_protocol("advrush")
    radius = Eps.parse("0.031")
    assert [t.key for t in p.threat_models] == ["fgsm", "pgd-20", "pgd-100", "apgd-ce", "autoattack"]
    assert all(t.radii == (radius,) and t.norm == "Linf" for t in p.threat_models) and p.hrs == "pgd-20"
    assert [p.threat_model(k).create(radius, 0).steps for k in ("pgd-20", "pgd-100")] == [20, 100]
    assert p.threat_model("pgd-100").title == "PGD-100" and p.threat_model("pgd-20").create(radius, 0).alpha == 0.031 / 4
    apgd, aa = p.threat_model("apgd-ce").create(radius, 0), p.threat_model("autoattack").create(radius, 0)
    assert (apgd.steps, apgd.restarts, aa.version, aa.members) == (100, 1, "standard",
                                                                   ("apgd-ce", "apgd-t", "fab-t", "square"))


def test_rnas_protocol_and_its_cw_note():
    p = get_protocol("rnas")
    assert [t.key for t in p.threat_models] == ["fgsm", "pgd-20", "autoattack"] and p.hrs == "pgd-20"
    pgd = p.threat_model("pgd-20").create(EIGHT, 0)
    assert (pgd.steps, pgd.alpha) == (20, 2 / 255)
    assert "C&W" in p.description and "L2" in p.description


def test_the_eval_suite_keeps_its_attack_parameters():
    # What the [eval] settings gave each attack before protocols were data (written out as data).
    cfg = EvalConfig(attacks=("fgsm", "ffgsm", "bim", "pgd", "pgd-20", "apgd-ce", "mifgsm", "square"),
                     eps=(Eps.parse("4/255"), Eps.parse("0.031")), alpha_ratio=0.3, steps=7, apgd_steps=50,
                     apgd_restarts=2, early_stop=False, hrs_attack="pgd-20")
    p = protocol_for(cfg)
    for eps in cfg.eps:
        e = float(eps)
        expected = {
            "fgsm": {"eps": e, "seed": 4, "early_stop": False},
            "ffgsm": {"eps": e, "seed": 4, "early_stop": False},
            "bim": {"eps": e, "seed": 4, "early_stop": False, "alpha": 0.3 * e, "steps": 7},
            "pgd": {"eps": e, "seed": 4, "early_stop": False, "norm": "Linf", "alpha": 0.3 * e, "steps": 7},
            "pgd-20": {"eps": e, "seed": 4, "early_stop": False, "norm": "Linf", "alpha": 0.3 * e, "steps": 20},
            "apgd-ce": {"eps": e, "seed": 4, "early_stop": False, "norm": "Linf", "steps": 50, "restarts": 2},
            "mifgsm": {"eps": e, "seed": 4, "early_stop": False, "norm": "Linf"},
            "square": {"eps": e, "seed": 4, "early_stop": False, "norm": "Linf"},
        }
        assert {t.key: t.parameters(eps, 4) for t in p.threat_models} == expected
    assert p.threat_model("pgd-20").attack == "pgd" and p.threat_model("pgd-20").radii == cfg.eps


def test_a_threat_model_may_override_a_radius_rule():
    tm = ThreatModel("pgd", radii=("8/255",), rules={"alpha": Fraction(1, 8)}, params={"steps": 3})
    assert tm.create(EIGHT, 0).alpha == 1 / 255 and tm.create(EIGHT, 0).steps == 3
    assert ThreatModel("pgd", radii=("8/255",), params={"alpha": 0.5 / 255}).create(EIGHT, 0).alpha == 0.5 / 255


def test_named_protocol_with_corruptions_from_the_eval_section():
    p = protocol_for(EvalConfig(protocol="jung", corruptions=("frost", "fog")))
    assert p.name == "jung" and p.corruptions == ("frost", "fog") and len(p.threat_models) == 4
    assert len(protocol_for(EvalConfig(corruptions=("all",))).corruptions) == 15


@pytest.mark.parametrize("make, error, needle", [
    (lambda: protocol_for(EvalConfig(attacks=("nope",))), UnknownNameError, "robnas list attacks"),
    (lambda: protocol_for(EvalConfig(attacks=("fgsm-3",))), UnknownNameError, "unknown attack 'fgsm-3'"),
    (lambda: protocol_for(EvalConfig(attacks=("onepixel",), hrs_attack="onepixel")), InvalidValueError, "L0"),
    (lambda: protocol_for(EvalConfig(attacks=("fgsm", "pgd"), norm="L2")), InvalidValueError, "not --norm L2"),
    (lambda: protocol_for(EvalConfig(attacks=("fgsm",), hrs_attack="pgd")), InvalidValueError,
     "HRS attack 'pgd' is not in the suite"),
    (lambda: protocol_for(EvalConfig(batch_size=0)), InvalidValueError, "batch_size"),
    (lambda: protocol_for(EvalConfig(corruptions=("smoke",))), UnknownNameError, "unknown corruption 'smoke'"),
    (lambda: protocol_for(EvalConfig(protocol="madry")), UnknownNameError, "robnas list protocols"),
    (lambda: Protocol("p", (threat_model("fgsm", ("1/255",)), threat_model("fgsm", ("2/255",)))), InvalidValueError,
     "repeats a threat-model key"),
    (lambda: Protocol("p", (threat_model("fgsm", ("1/255",)),), mode="cumulative"), InvalidValueError, "mode"),
    (lambda: ThreatModel("fgsm", radii=()), InvalidValueError, "no radius"),
    (lambda: ThreatModel("fgsm", radii=("1/255", 1 / 255)), InvalidValueError, "repeats a radius"),
    (lambda: ThreatModel("fgsm", radii=("-1/255",)), InvalidValueError, "write it like 8/255"),
    (lambda: ThreatModel("pgd", radii=("1/255",), params={"steps": 0}), InvalidValueError, "steps"),
    (lambda: ThreatModel("pgd", radii=("1/255",), rules={"gamma": 0.5}), InvalidValueError, "gamma"),
])
def test_bad_protocols_are_one_line_errors(make, error, needle):
    with pytest.raises(error, match=needle) as info:
        make()
    assert "\n" not in str(info.value)


def test_radius_zero_is_the_clean_point_for_every_attack():
    p = protocol_for(EvalConfig(attacks=("fgsm", "pgd", "bim"), eps=(Eps.parse(0), EIGHT)))
    assert all(t.create(Eps.parse(0), 0).eps == 0 for t in p.threat_models)
    with pytest.raises(UnknownNameError, match="no threat model 'cw'"):
        p.threat_model("cw")
