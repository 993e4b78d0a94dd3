"""Pre-generated adversarial sets: successful examples only, versioned files, fast scoring, bad files."""

from __future__ import annotations

import json

import pytest
import torch

from robnas.adversarial_sets import advset_table, build_advset, evaluate_advset, load_advset, save_advset
from robnas.data import Split
from robnas.errors import DataError, InvalidValueError


@pytest.fixture(scope="module")
def built(trained_cnn, trained_mlp, digits):
    split = Split((digits.x_test[:80] * 255).round().to(torch.uint8), digits.y_test[:80])
    return build_advset([("cnn", trained_cnn), ("mlp", trained_mlp)], split, ["fgsm", "pgd"], [10, 40], "digits",
                        batch_size=40)


def test_cells_count_only_successful_rounded_examples(built, trained_cnn, trained_mlp):
    m = built.manifest
    assert [(c["source"], c["attack"], c["threshold"]) for c in m["cells"]] == [
        (s, a, t) for s in ("cnn", "mlp") for a in ("fgsm", "pgd") for t in (10, 40)]
    assert m["total"] == len(built.labels) == sum(c["count"] for c in m["cells"]) > 0
    counts = {(c["source"], c["attack"], c["threshold"]): c["count"] for c in m["cells"]}
    assert counts[("cnn", "pgd", 40)] >= counts[("cnn", "pgd", 10)]  # a larger ball breaks more points
    assert built.images.dtype == torch.uint8
    for index, (source, model) in enumerate([("cnn", trained_cnn), ("mlp", trained_mlp)]):
        mask = torch.isin(built.cell, torch.tensor([i for i, c in enumerate(m["cells"]) if c["source"] == source]))
        with torch.no_grad():
            assert (model(built.images[mask].float() / 255).argmax(1) != built.labels[mask]).all()
    assert "| cnn |" in advset_table(m) and "| Total |" in advset_table(m)


def test_save_load_and_score(built, trained_cnn, tmp_path):
    path = save_advset(built, tmp_path / "set")
    loaded = load_advset(path)
    assert torch.equal(loaded.images, built.images) and loaded.manifest["sha256"]
    scores = evaluate_advset(trained_cnn, loaded)
    assert scores["n"] == built.manifest["total"]
    own = [c for c in scores["cells"] if c["source"] == "cnn" and c["count"]]
    assert all(c["accuracy"] == 0.0 for c in own)  # its own successful examples fool it by construction
    assert scores["accuracy"] + scores["error"] == pytest.approx(100.0)
    with pytest.raises(InvalidValueError, match="already exists"):
        save_advset(built, path)


def test_corrupt_and_foreign_sets_are_refused(built, tmp_path):
    path = save_advset(built, tmp_path / "set")
    raw = (path / "data.npz").read_bytes()
    (path / "data.npz").write_bytes(raw[:-10] + b"0123456789")
    with pytest.raises(DataError, match="checksum"):
        load_advset(path)
    manifest = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps({**manifest, "version": 99}))
    with pytest.raises(DataError, match="version 99"):
        load_advset(path)
    with pytest.raises(DataError, match="expected manifest.json and data.npz"):
        load_advset(tmp_path / "nowhere")


def test_bad_thresholds(trained_cnn, digits):
    split = Split((digits.x_test[:4] * 255).round().to(torch.uint8), digits.y_test[:4])
    with pytest.raises(InvalidValueError, match="thresholds must be > 0"):
        build_advset([("cnn", trained_cnn)], split, ["fgsm"], [0], "digits")
