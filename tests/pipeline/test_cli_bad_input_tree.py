"""Every command's bad input: one ``error:`` line, exit 2, and the working tree exactly as it was.

Walks the CLI command by command; the tree is compared file by file (names and contents), so a
command that validates after creating its run directory, or that leaves a half-written set or
database behind, fails here. ``REFUSED_BEFORE_WORK`` are refusals that once came after the work
(a network the certificate cannot bound, found after training or attacking): each must name its cause.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from robnas.cli_flags import leaves

BAD = {
    "train": [
        ["--model", "resnet1000"],
        ["--model", "resnet18", "--dataset", "imagenet-9000"],
        ["--model", "resnet18", "--epochs", "-3"],
        ["--model", "resnet18", "--batch-size", "0"],
        ["--model", "resnet18", "--lr", "0"],
        ["--model", "resnet18", "--set", "train.select_best=median"],
        ["--model", "resnet18", "--set", "train.adversarial.eps=-8/255", "--adversarial"],
        ["--model", "resnet18", "--set", "train.epoch=3"],
        ["--model", "resnet18", "--kw", "width=-4"],
        ["--model", "macro", "--kw", "genome=\"10-10\"", "--kw", "decoder=\"densenet\""],
        ["--model", "nb201", "--kw", "arch=\"|nor_conv_3x3~0|+|bogus\""],
        ["--model", "resnet18", "--dataset", "cifar10", "--data-root", "no/such/dir"],
        ["--model", "resnet18", "--train-size", "0"],
        ["--model", "resnet18", "--device", "cuda:7"],
        ["--model", "resnet18", "--threads", "-1"],
        [],
        ["--model", "resnet18", "--resume"],
        ["--model", "resnet18", "--config", "no-such-config.toml"],
    ],
    "eval": [
        ["--model", "resnet18", "--attacks", "pgd,nonsense"],
        ["--model", "resnet18", "--eps=-8/255"],
        ["--model", "resnet18", "--eps", "eight"],
        ["--model", "resnet18", "--norm", "L3"],
        ["--model", "resnet18", "--protocol", "nosuch"],
        ["--model", "resnet18", "--corruptions", "rain"],
        ["--model", "resnet18", "--baseline", "VGG"],
        ["--checkpoint", "missing.pt"],
        ["--model", "resnet18", "--set", "eval.mode=cumulative"],
        [],
        ["--model", "resnet18", "--train-size", "10"],              # eval does not train: not its flag
        ["--model", "resnet18", "--epochs", "3"],
        ["--model", "resnet18", "--protocol", "jung", "--attacks", "fgsm"],  # the protocol replaces the suite
        ["--kw", "width=2"],                                        # --kw without --model
    ],
    "bench": [
        ["build", "b.sqlite", "--shard", "0/4"],
        ["build", "b.sqlite", "--shard", "5/4"],
        ["build", "b.sqlite", "--shard", "half"],
        ["merge", "m.sqlite"],
        ["merge", "m.sqlite", "no/such/part.sqlite"],
        ["merge", "keep.txt", "keep.txt"],
        ["build", "b.sqlite", "--seeds", "0"],
        ["build", "b.sqlite", "--set", "bench.seeds=0"],
        ["build", "b.sqlite", "--attacks", "fgsm"],                 # the suite of --protocol eval only
        ["build", "b.sqlite", "--epochs", "3"],                     # the recipe trains
        ["build"],
        ["export", "digits-nb201", "out", "--layout", "nasbench"],
        ["export", "digits-nb201"],
        ["import", "dir", "b.sqlite", "--layout", "nasbench"],
        ["show"],
        ["correlate", "digits-nb201", "--bootstrap", "-1"],
        ["nas", "digits-nb201", "--runs", "0"],
        ["frobnicate"],
    ],
    "run": [
        ["--config", "no-such-config.toml"],
        ["--config", "no-such-shipped-config"],
        ["--set", "models=[{name=\"resnet18\"}]", "--dataset", "nosuch"],
        ["--set", "models=[{name=\"resnet18\"}]", "--set", "searched.enabled=true", "--set", "search.method=rs"],
        ["--set", "models=[{name=\"resnet18\", label=\"a\"}, {name=\"vgg11\", label=\"a\"}]"],
        ["--set", "models=[{name=\"resnet18\", train={lr=-1}}]"],
        ["--set", "models=[{name=\"resnet18\"}]", "--set", "landscape.enabled=true", "--set", "landscape.resolution=4"],
    ],
    "search": [
        ["--method", "hill-climbing"],
        ["--method", "advrush", "--space", "macro"],
        ["--method", "advrush", "--set", "search.differentiable.epochs=0"],
        ["--method", "advrush", "--set", "search.differentiable.advrush.gamma=-1"],
        ["--method", "advrush", "--set", "search.differentiable.advrush.warmup_epochs=9"],
        ["--method", "advrush", "--set", "search.differentiable.advrush.compat=paper"],
        ["--method", "darts", "--set", "search.differentiable.terms=[\"nosuch\"]"],
        ["--method", "rnas", "--space", "nb201", "--set", "search.differentiable.derive_exclude=[\"conv_3x3\"]"],
        ["--method", "rs", "--space", "nb201", "--objectives", "clean_error,nonsense"],
        ["--method", "rs", "--space", "nb201", "--evaluations", "-1"],
        ["--method", "rs", "--space", "nb201", "--backend", "cluster"],
        ["--method", "nsga2", "--space", "nb201", "--objectives", "clean_error,flops",
         "--set", "search.discrete.strategy={population_size=-2}"],
        ["--method", "rs", "--space", "nb201", "--objectives", "advset_error"],
        ["--method", "rs", "--space", "nb201", "--set", "search.discrete.table=no/such/table.csv"],
        ["--method", "advrush", "--space", "nb201", "--epochs", "0"],
        ["--method", "advrush", "--evaluations", "3"],              # a discrete strategy's budget
        ["--method", "advrush", "--adversarial"],
        ["--method", "advrush", "--attacks", "fgsm"],               # search evaluates no attack suite
        ["--method", "rs", "--workers", "-1"],
        ["--method", "rs", "--max-seconds", "-5"],
        ["--method", "nosuch", "--epochs", "2"],
    ],
    "transfer": [
        ["--model", "resnet18"],
        ["--model", "resnet18", "--model", "vgg11", "--attack", "nonsense"],
    ],
    "advset": [
        ["build", "--model", "resnet18"],
        ["eval", "--model", "resnet18", "--advset", "no/such/set"],
        ["build", "--model", "resnet18", "--advset", "newset", "--attacks", "nonsense"],
        ["build", "--model", "resnet18", "--advset", "newset", "--thresholds", "one"],
        ["build", "--model", "resnet18", "--advset", "newset", "--epochs", "3"],
        ["score", "--model", "resnet18"],
    ],
    "landscape": [
        ["--model", "resnet18", "--resolution", "4"],
        ["--model", "resnet18", "--range", "-1"],
        ["--model", "resnet18", "--points", "0"],
        [],
    ],
}
_NB201 = ["--model", "nb201", "--kw", "arch=\"|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|"
          "nor_conv_3x3~1|nor_conv_3x3~2|\"", "--kw", "C=2", "--kw", "N=1"]
# command, arguments, what the error line names.
REFUSED_BEFORE_WORK = [
    ("eval", ["--model", "resnet18", "--set", "eval.certify=true"], "not known to be affine"),
    ("eval", [*_NB201, "--attacks", "fgsm", "--set", "eval.hrs_attack=pgd"], "HRS attack 'pgd'"),
    ("run", ["--set", "models=[{name=\"resnet18\", kwargs={width=2}}]", "--epochs", "1",
             "--set", "eval.certify=true"], "not known to be affine"),
    ("run", ["--set", "models=[{name=\"resnet18\", kwargs={width=2}}]", "--set", "searched.enabled=true",
             "--set", "search.differentiable.derive_exclude=[\"conv_9x9\"]"], "conv_9x9"),
    ("ensemble", ["--set", "eval.certify=true"], "not known to be affine"),
    ("bench", ["build", "b.sqlite", "--protocol", "eval", "--attacks", "fgsm", "--set", "eval.hrs_attack=pgd"],
     "HRS attack 'pgd'"),
    ("bench", ["nas", "digits-nb201", "--objectives", "robust_error:fgsm@9/255"], "not 9/255"),
    ("search", ["--method", "rs", "--space", "nb201", "--set", "search.discrete.table=digits-nb201",
                "--objectives", "robust_error:fgsm@9/255"], "not 9/255"),
    ("search", ["--method", "darts", "--set", "search.differentiable.derive_exclude=[\"max_pool_9x9\"]"],
     "max_pool_9x9"),
    ("bench", ["nas", "digits-nb201", "--set", "bench.nas.differentiable_search={derive_exclude=[\"conv_9x9\"]}"],
     "conv_9x9"),
]
CASES = [(command, args, None) for command, cases in BAD.items() for args in cases] + REFUSED_BEFORE_WORK


def takes_quiet(command: str, args: list[str]) -> bool:
    """Whether the command line's command (or action) has --quiet (bench show and export print or write
    nothing else, so they do not take it); an unknown action: the walk adds nothing."""
    spec = dict(leaves()).get(command) or dict(leaves()).get(f"{command} {args[0] if args else ''}")
    return spec is not None and any(f.option == "--quiet" for f in spec.flags())


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("command, args, needle", CASES,
                         ids=[f"{c}:{' '.join(a) or '(none)'}"[:80] for c, a, _ in CASES])
def test_bad_input_leaves_the_tree_as_it_was(cli, tmp_path, command, args, needle):
    (tmp_path / "keep.txt").write_text("a file that was there before")
    before = _tree(tmp_path)
    proc = cli(command, *args, *(["--quiet"] if takes_quiet(command, args) else []))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert needle is None or needle in lines[0], lines[0]
    assert _tree(tmp_path) == before, "bad input must leave nothing behind (no run directory, no file)"
