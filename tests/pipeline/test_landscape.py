"""Input loss landscape (AdvRush Figure 3): the grid's geometry on a trained model, and `robnas landscape`."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from robnas.pipeline.config import TrainConfig
from robnas.data import load_dataset
from robnas.evaluation import landscape as landscape_mod
from robnas.evaluation.landscape import grid_axis, input_loss_landscape
from robnas.models import create_model
from robnas.store.run_dir import RunDir
from robnas.train import train_model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small ResNet trained for two epochs on 400 digits, and the saved checkpoint."""
    data = load_dataset("digits", train_size=400, test_size=60)
    torch.manual_seed(0)
    model = create_model("resnet18", num_classes=10, in_channels=1, mean=data.mean, std=data.std, width=4)
    run = RunDir.create(tmp_path_factory.mktemp("ls"), "t", "train", quiet=True)
    train_model(model, data.train, data.test, TrainConfig(epochs=2, batch_size=50, lr=0.1), run, quiet=True,
                extra={"dataset": "digits", "label": "R18"})
    return model.eval(), data, run.checkpoints / "last.pt"


def test_grid_centre_is_clean_loss_and_gradient_sign_ascends(trained):
    model, data, _ = trained
    grid = input_loss_landscape(model, data.test, points=24, eps_range=4 / 255, resolution=7, seed=3, per_point=True)
    c = 3
    assert grid.axis[c] == 0.0 and len(grid.axis) == 7 and grid.axis[-1] == pytest.approx(4 / 255)
    x, y = data.test.float_images(torch.arange(24)), data.test.labels[:24]
    with torch.no_grad():
        clean = F.cross_entropy(model(x), y).item()
    assert grid.clean_loss == pytest.approx(clean, abs=1e-5)
    assert grid.loss[c][c] == pytest.approx(clean, abs=1e-5)
    # first order: L(x + a sign(g)) ~ L(x) + a ||g||_1, so the loss rises through the centre along n
    along_n = [grid.loss[i][c] for i in range(7)]
    assert along_n[c - 1] < along_n[c] < along_n[c + 1]
    assert along_n[-1] - along_n[c] > abs(grid.loss[c][-1] - grid.loss[c][c])  # steeper than the random axis
    per = torch.tensor(grid.per_point)
    assert per.shape == (24, 7, 7)
    assert torch.allclose(per.double().mean(0), torch.tensor(grid.loss, dtype=torch.float64), atol=1e-5)


def test_chunking_and_seed(trained, monkeypatch):
    model, data, _ = trained
    whole = input_loss_landscape(model, data.test, points=10, eps_range=0.05, resolution=5, seed=1)
    monkeypatch.setattr(landscape_mod, "FORWARD_BATCH", 7)  # grid split over many forwards and input batches
    chunked = input_loss_landscape(model, data.test, points=10, eps_range=0.05, resolution=5, seed=1, batch_size=4)
    other_seed = input_loss_landscape(model, data.test, points=10, eps_range=0.05, resolution=5, seed=2, batch_size=4)
    assert torch.allclose(torch.tensor(whole.loss), torch.tensor(chunked.loss), atol=1e-5)
    assert not torch.allclose(torch.tensor(chunked.loss)[2, 0], torch.tensor(other_seed.loss)[2, 0], atol=1e-6)
    assert torch.equal(grid_axis(0.05, 5), torch.tensor([-0.05, -0.025, 0.0, 0.025, 0.05], dtype=torch.float64))


def test_cli_writes_json_and_png(cli, trained, tmp_path):
    _, _, ckpt = trained
    proc = cli("landscape", "--checkpoint", str(ckpt), "--model", "resnet18", "--kw", "width=2", "--points", "12",
               "--range", "4/255", "--resolution", "5", "--name", "l", "--quiet", check=True)
    results = tmp_path / "runs" / "l" / "results"
    assert "results:" in proc.stdout
    payload = json.loads((results / "landscape.json").read_text())
    assert payload["dataset"] == "digits" and set(payload["models"]) == {"R18", "resnet18"}
    grid = payload["models"]["R18"]
    assert grid["resolution"] == 5 and grid["points"] == 12 and grid["range"] == pytest.approx(4 / 255)
    assert len(grid["loss"]) == 5 and all(len(row) == 5 for row in grid["loss"])
    assert grid["loss"][2][2] == pytest.approx(grid["clean_loss"], abs=1e-5)
    assert (results / "landscape.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, needle", [
    (["--model", "resnet18", "--resolution", "4"], "odd"),
    (["--model", "resnet18", "--range", "-1"], "range"),
    (["--model", "resnet18", "--points", "0"], "points"),
    (["--model", "no_such_net"], "unknown model"),
    ([], "--checkpoint"),
])
def test_bad_input_is_one_line_and_writes_nothing(cli, tmp_path, args, needle):
    proc = cli("landscape", *args, "--quiet")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and needle in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_corrupt_checkpoint(cli, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    proc = cli("landscape", "--checkpoint", str(bad), "--quiet")
    assert proc.returncode == 2 and "corrupt" in proc.stderr
    assert not (tmp_path / "runs").exists()
