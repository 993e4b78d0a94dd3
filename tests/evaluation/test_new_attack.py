"""Adding an attack is one module: a class registered with ``@register_attack`` is usable by protocols,
the engine, reports and reliability checks without an edit anywhere else."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from robnas.attacks import ATTACKS, Attack, register_attack
from robnas.attacks.base import points_to_search
from robnas.attacks.gradient import forward
from robnas.attacks.threat import project
from robnas.data import Split
from robnas.evaluation import Protocol, evaluate, threat_model
from robnas.report.table import robustness_table


def test_a_new_registered_attack_flows_through_protocols_engine_reports_and_flags(monkeypatch, trained_mlp, digits):
    monkeypatch.setattr(ATTACKS, "_entries", dict(ATTACKS._entries))  # the registration is undone afterwards

    @register_attack("test-sign-noise")
    class SignNoise(Attack):
        """A black-box attack: one random corner of the Linf ball (what a new module would hold)."""

        title = "Sign noise"
        kind = "black-box"
        norms = ("Linf",)

        def _attack(self, model, x, y, x_init, gen, outcome, counter, need_logits):
            idx = points_to_search(model, x, y, outcome, counter, self.early_stop)
            noise = torch.randint(0, 2, x[idx].shape, generator=gen, device=x.device).to(x.dtype) * 2 - 1
            x_adv = project(x[idx] + self.eps * noise, x[idx], self.eps, "Linf")
            logits = forward(model, x_adv, counter)
            outcome.offer(idx, x_adv, logits, F.cross_entropy(logits, y[idx], reduction="none"))

    split = Split((digits.x_test[:60] * 255).round().to(torch.uint8), digits.y_test[:60])
    protocol = Protocol("new", (threat_model("fgsm", ("8/255",)), threat_model("test-sign-noise", ("8/255",))))
    record = evaluate(trained_mlp, split, protocol, 10, quiet=True)
    assert record.threat_models["test-sign-noise"].title == "Sign noise"
    table = robustness_table([{"label": "mlp", "params": 1000, "evaluation": record}])
    assert "| FGSM | Sign noise | Worst case |" in table
    # the black-box check reads the class's kind: a record where the new attack beats FGSM is flagged
    from tests.evaluation.records import record_of
    from robnas.evaluation.reliability import result_flags

    flags = result_flags(record_of({"fgsm": {"8/255": 60.0}, "test-sign-noise": {"8/255": 40.0}}))
    assert [f.name for f in flags] == ["black_box_stronger"]
