"""Transfer matrix: white-box on the diagonal, weaker transferred attacks off it; report files."""

from __future__ import annotations

import json

import torch

from robnas.attacks import create_attack
from robnas.data import Split
from robnas.evaluation.transfer import transfer_matrix
from robnas.report.transfer_report import write_transfer_report


def test_transfer_matrix_on_trained_models(trained_cnn, trained_mlp, digits, tmp_path):
    split = Split((digits.x_test[:150] * 255).round().to(torch.uint8), digits.y_test[:150])
    attack = create_attack("pgd", eps=0.15, alpha=0.03, steps=10, early_stop=False)
    result = transfer_matrix([("cnn", trained_cnn), ("mlp", trained_mlp)], split, attack, batch_size=64, quiet=True)
    acc = result["accuracy"]
    assert result["sources"] == result["targets"] == ["cnn", "mlp"]
    # white-box (diagonal) is the strongest attack on each target
    assert acc[0][0] < acc[1][0] and acc[1][1] < acc[0][1]
    # transferred examples still hurt: below clean accuracy
    assert acc[1][0] < result["clean"][0] and acc[0][1] < result["clean"][1]
    paths = write_transfer_report(tmp_path, result, {"dataset": "digits"})
    assert [p.name for p in paths] == ["transfer.json", "transfer.md", "transfer.png"]
    assert json.loads(paths[0].read_text())["accuracy"] == acc
    assert "| cnn |" in paths[1].read_text()
    assert paths[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
