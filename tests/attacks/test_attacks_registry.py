"""Registry, parameter validation and input checks: every bad input is a one-line robnas error."""

from __future__ import annotations

import pytest
import torch

from robnas.attacks import ATTACKS, Attack, attack_parameters, create_attack, list_attacks
from robnas.attacks.apgd import checkpoint_windows
from robnas.errors import InvalidValueError, UnknownNameError


def test_registered_names():
    assert {"apgd-ce", "bim", "clean", "ffgsm", "fgsm", "pgd", "rfgsm", "apgd-dlr", "apgd-t", "square", "fab-t", "cw", "deepfool", "mifgsm", "onepixel", "pgd-l0", "autoattack"} <= set(list_attacks())
    assert list_attacks() == sorted(list_attacks())
    assert list_attacks("*fgsm") == ["ffgsm", "fgsm", "mifgsm", "rfgsm"]
    assert all(isinstance(create_attack(name), Attack) for name in ATTACKS.names())


def test_paper_defaults():
    pgd = create_attack("pgd")
    assert (pgd.eps, pgd.alpha, pgd.steps, pgd.restarts, pgd.random_start) == (8 / 255, 2 / 255, 10, 1, True)
    assert create_attack("bim").alpha == 2 / 255 and create_attack("bim").steps == 10
    assert create_attack("ffgsm", eps=0.1).alpha == pytest.approx(0.125)
    rfgsm = create_attack("rfgsm", eps=0.1)
    assert rfgsm.alpha == pytest.approx(0.05) and rfgsm.step_size == pytest.approx(0.05)
    apgd = create_attack("apgd-ce")
    assert (apgd.steps, apgd.restarts, apgd.rho, apgd.momentum) == (100, 10, 0.75, 0.75)
    autoattack = create_attack("autoattack")
    assert (autoattack.version, autoattack.steps, autoattack.n_target_classes, autoattack.queries) == (
        "standard", 100, 9, 5000)
    assert all(create_attack(name).early_stop for name in list_attacks())


def test_unknown_name():
    with pytest.raises(UnknownNameError, match="choose one of"):
        create_attack("carlini-wagner-linf")


@pytest.mark.parametrize("name, params", [
    ("pgd", {"eps": -0.1}),
    ("pgd", {"eps": float("nan")}),
    ("pgd", {"steps": 0}),
    ("pgd", {"steps": 2.5}),
    ("pgd", {"restarts": 0}),
    ("pgd", {"alpha": 0.0}),
    ("pgd", {"alpha": -1.0}),
    ("pgd", {"norm": "L1"}),
    ("fgsm", {"norm": "L2"}),
    ("bim", {"norm": "L2"}),
    ("apgd-ce", {"rho": 1.5}),
    ("apgd-ce", {"steps": 0}),
    ("apgd-ce", {"norm": "linf"}),
    ("rfgsm", {"eps": 0.1, "alpha": 0.2}),
    ("pgd", {"seed": -1}),
    ("pgd", {"early_stop": "yes"}),
    ("pgd", {"batch_size": 0}),
    ("fgsm", {"steps": 3}),
    ("autoattack", {"version": "plus"}),
    ("autoattack", {"queries": 0}),
    ("autoattack", {"n_target_classes": 0}),
    ("autoattack", {"norm": "L0"}),
])
def test_bad_parameters_are_one_line_errors(name, params):
    with pytest.raises(InvalidValueError) as info:
        create_attack(name, **params)
    assert "\n" not in str(info.value)


def test_eps_zero_is_allowed_with_derived_steps():
    for name in list_attacks():
        assert create_attack(name, eps=0.0).eps == 0.0


def test_bad_inputs(trained_mlp):
    attack = create_attack("fgsm")
    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 3])
    bad_calls = [
        (x * 2, y),                     # outside [0, 1]
        (x - 0.5, y),
        (x, y[:3]),                     # wrong label shape
        (x, y.view(4, 1)),
        (x, y.float()),                 # float labels
        ((x * 255).to(torch.uint8), y),  # uint8 images must be scaled first
    ]
    for images, labels in bad_calls:
        with pytest.raises(InvalidValueError) as info:
            attack.run(trained_mlp, images, labels)
        assert "\n" not in str(info.value)
    with pytest.raises(InvalidValueError, match="x_init"):
        attack.run(trained_mlp, x, y, x_init=x[:2])


def test_apgd_checkpoints_follow_the_paper_schedule():
    # p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06); checkpoint after ceil(p_j * N) steps.
    p = [0.0, 0.22]
    while p[-1] < 1:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    expected_ends = [round(q * 100) for q in p[1:] if q <= 1]
    windows = checkpoint_windows(100)
    assert [i + 1 for i in windows] == expected_ends
    assert list(windows.values()) == [b - a for a, b in zip([0] + expected_ends, expected_ends)]


def test_every_attack_describes_itself():
    from robnas.attacks.base import KINDS

    for name, cls in ATTACKS.items():
        assert cls.name == name and isinstance(cls.__dict__.get("title"), str) and cls.title, name
        assert cls.kind in KINDS and cls.norms, name
        assert set(cls.radius_rules) <= set(attack_parameters(name)), name
        assert all(refined in ATTACKS for refined in cls.refines), name
        assert all(member in ATTACKS for member in cls.member_titles), name
    assert (ATTACKS.get("apgd-ce").title, ATTACKS.get("ffgsm").title, ATTACKS.get("pgd").title) == (
        "AutoPGD", "F-FGSM", "PGD")
    assert {n for n, c in ATTACKS.items() if c.kind == "black-box"} >= {"square", "onepixel"}
    assert ATTACKS.get("autoattack").kind == "composite"


def test_every_attack_module_is_imported():
    import pkgutil
    import sys

    import robnas.attacks

    assert all(f"robnas.attacks.{m.name}" in sys.modules for m in pkgutil.iter_modules(robnas.attacks.__path__))


def test_register_attack_refuses_an_attack_that_does_not_describe_itself(monkeypatch):
    from robnas.attacks import register_attack

    monkeypatch.setattr(ATTACKS, "_entries", dict(ATTACKS._entries))  # registrations here are undone afterwards

    class Untitled(Attack):
        kind = "white-box"

        def _attack(self, *args):
            pass

    with pytest.raises(TypeError, match="title"):
        register_attack("untitled")(Untitled)

    class Kindless(Attack):
        title = "Kindless"

        def _attack(self, *args):
            pass

    with pytest.raises(TypeError, match="kind"):
        register_attack("kindless")(Kindless)
    assert "untitled" not in ATTACKS and "kindless" not in ATTACKS


def test_spellings_with_an_iteration_count():
    from robnas.attacks import split_steps

    assert split_steps("pgd-100") == ("pgd", 100) and split_steps("PGD") == ("pgd", None)
    assert split_steps("pgd-l0") == ("pgd-l0", None) and split_steps("apgd-ce-50") == ("apgd-ce", 50)
    for bad in ("fgsm-3", "pgd-0", "pgd-x", "nope-10"):
        with pytest.raises(UnknownNameError):
            split_steps(bad)
