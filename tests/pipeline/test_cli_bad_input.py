"""Bad input: one clear error line, exit code 2, nothing written."""

from __future__ import annotations

import pytest

BAD = [
    (["train", "--model", "resnet1000"], "unknown model"),
    (["train", "--model", "resnet18", "--dataset", "imagenet-9000"], "unknown dataset"),
    (["eval", "--model", "resnet18", "--attacks", "pgd,nonsense"], "unknown attack"),
    (["eval", "--model", "resnet18", "--eps=-8/255"], "eps"),
    (["train", "--model", "darts", "--kw", "genotype=\"Genotype(normal=[('sep_conv_9x9', 0)])\""], "sep_conv_9x9"),
    (["train", "--model", "nb201", "--kw", "arch=\"|nor_conv_3x3~0|+|bogus\""], "arch"),
    (["train", "--model", "resnet18", "--dataset", "cifar10", "--data-root", "no/such/dir"], "cifar"),
    (["train", "--model", "resnet18", "--set", "train.epoch=3"], "train.epoch"),
    (["eval", "--model", "resnet18", "--baseline", "VGG"], "baseline"),
    (["eval", "--checkpoint", "missing.pt"], "missing.pt"),
]


@pytest.mark.parametrize("args,needle", BAD, ids=[b[1] for b in BAD])
def test_bad_input_is_one_line_exit_2_nothing_written(cli, tmp_path, args, needle):
    proc = cli(*args, "--quiet")
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert needle.lower() in lines[0].lower()
    assert not (tmp_path / "runs").exists(), "a failed command must not leave a run directory"


def test_truncated_checkpoint(cli, tmp_path):
    proc = cli("train", "--model", "resnet18", "--kw", "width=4", "--train-size", "60", "--test-size", "20",
               "--epochs", "1", "--name", "t", "--quiet", check=True)
    ckpt = tmp_path / "runs" / "t" / "checkpoints" / "last.pt"
    data = ckpt.read_bytes()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(data[: len(data) // 2])
    proc = cli("eval", "--checkpoint", str(bad), "--quiet", "--out", "evalruns")
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "truncated or corrupt" in lines[0]
    assert not (tmp_path / "evalruns").exists()


def test_nan_loss_is_reported(cli):
    proc = cli("train", "--model", "resnet18", "--kw", "width=4", "--train-size", "60", "--test-size", "20",
               "--epochs", "1", "--batch-size", "10", "--lr", "1e30", "--set", "train.grad_clip=0", "--quiet")
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "loss became" in lines[0] and "learning rate" in lines[0]
