"""Every flag a command's ``--help`` lists changes that command's resolved config, at the path it says.

The walk reads each command's and each action's ``--help`` as a user would, then for every option
listed: resolves the command line without it and with it (the option before and after the
positionals), and checks that the value at the option's path changed to what ``--set PATH=VALUE``
gives. ``robnas search`` is walked once with a differentiable method and once with a discrete
strategy, since its flags set the method's own settings. Nothing runs: only the config is resolved.
"""

from __future__ import annotations

import re

import pytest

from robnas.cli import build_parser, main, resolve_config
from robnas.cli_flags import COMMANDS, leaves
from robnas.errors import RobnasError

# What each command line accepts (beside -h, --config and --set): the command shapes users see.
SHAPES = {
    "train": "--dataset --data-root --train-size --val-size --test-size --epochs --batch-size --lr --adversarial "
             "--seed --device --threads --out --name --quiet --resume --model --kw --label",
    "eval": "--dataset --data-root --test-size --attacks --eps --norm --protocol --corruptions --baseline --seed "
            "--device --threads --out --name --quiet --resume --checkpoint --model --kw --label",
    "transfer": "--dataset --data-root --test-size --attack --steps --eps --norm --seed --device --out --name --quiet "
                "--checkpoint --model --kw --label",
    "advset build": "--advset --attacks --thresholds --dataset --data-root --test-size --seed --device --quiet "
                    "--checkpoint --model --kw --label",
    "advset eval": "--advset --data-root --seed --device --out --name --quiet --checkpoint --model --kw --label",
    "search": "--space --method --epochs --batch-size --lr --adversarial --objectives --evaluations --max-seconds "
              "--dataset --data-root --train-size --val-size --test-size --backend --workers --address --seed "
              "--device --threads --out --name --quiet --resume",
    "run": "--dataset --data-root --train-size --val-size --test-size --epochs --batch-size --lr --adversarial "
           "--attacks --eps --norm --protocol --corruptions --baseline --seed --device --threads --out --name --quiet "
           "--resume",
    "landscape": "--dataset --data-root --test-size --points --range --resolution --per-point --seed --device "
                 "--threads --out --name --quiet --checkpoint --model --kw --label",
    "ensemble": "--dataset --data-root --train-size --val-size --test-size --epochs --batch-size --lr --adversarial "
                "--attacks --eps --norm --protocol --corruptions --baseline --cells --total-cells --runs --backend "
                "--workers --address --seed --device --threads --out --name --quiet --resume",
    "bench build": "--space --recipe --protocol --sample --only --shard --seeds --proxies --at --keep-weights "
                   "--attacks --eps --norm --corruptions --dataset --data-root --backend --workers --address --seed "
                   "--device --threads --quiet --resume",
    "bench merge": "--quiet",
    "bench show": "",
    "bench import": "--layout --source-dataset --quiet",
    "bench export": "--layout",
    "bench reference": "--file --quiet",
    "bench ship": "--to --commit --quiet",
    "bench cascade": "--after --attack --eps --keep-weights --backend --workers --address --device --threads "
                     "--data-root --quiet",
    "bench proxies": "--proxies --at --keep-weights --backend --workers --address --device --threads --data-root "
                     "--quiet",
    "bench correlate": "--against --proxies --bootstrap --backend --workers --address --seed --out --name --quiet",
    "bench nas": "--objectives --strategies --runs --queries --backend --workers --address --seed --device "
                 "--data-root --out --name --quiet",
    "bench design": "--out --name --quiet",
    "bench study": "--bootstrap --objectives --strategies --runs --queries --backend --workers --address --seed "
                   "--device --data-root --out --name --quiet",
}
# The positionals of each action (placeholders: nothing is opened).
POSITIONALS = {"bench build": ["b.sqlite"], "bench merge": ["m.sqlite", "p1.sqlite", "p2.sqlite"],
               "bench show": ["b.sqlite", "0", "1"], "bench import": ["dir", "b.sqlite"],
               "bench export": ["b.sqlite", "out"], "bench reference": ["ref.sqlite"],
               "bench ship": ["b.sqlite", "name"], "bench cascade": ["b.sqlite"],
               "bench proxies": ["b.sqlite"], "bench correlate": ["b.sqlite"], "bench nas": ["b.sqlite"],
               "bench design": ["b.sqlite"], "bench study": ["b.sqlite"]}

# option -> (value on the command line, config path); values differ from every default and shipped config.
FLAGS = {
    "--dataset": ("cifar10", "data.name"), "--data-root": ("some/dir", "data.root"),
    "--train-size": ("123", "data.train_size"), "--val-size": ("7", "data.val_size"),
    "--test-size": ("33", "data.test_size"), "--epochs": ("3", "train.epochs"),
    "--batch-size": ("17", "train.batch_size"), "--lr": ("0.5", "train.lr"),
    "--adversarial": (None, "train.adversarial.enabled"), "--attacks": ("fgsm", "eval.attacks"),
    "--eps": ("4/255", "eval.eps"), "--norm": ("L2", "eval.norm"), "--protocol": ("jung", "eval.protocol"),
    "--corruptions": ("fog", "eval.corruptions"), "--baseline": ("X", "eval.baseline"), "--seed": ("5", "seed"),
    "--device": ("cpu", "device"), "--threads": ("2", "threads"), "--out": ("elsewhere", "out"),
    "--name": ("n1", "name"), "--quiet": (None, "quiet"), "--resume": (None, "resume"),
    "--attack": ("fgsm", "transfer.attack"), "--steps": ("3", "transfer.steps"), "--advset": ("sets/a", "advset.path"),
    "--thresholds": ("2,4", "advset.thresholds"), "--points": ("9", "landscape.points"),
    "--range": ("4/255", "landscape.eps_range"), "--resolution": ("5", "landscape.resolution"),
    "--per-point": (None, "landscape.per_point"), "--cells": ("2,1", "ensemble.cells"),
    "--total-cells": ("3", "ensemble.total_cells"), "--runs": ("7", "ensemble.runs"),
    "--backend": ("inprocess", "bench.backend"), "--workers": ("3", "bench.workers"),
    "--address": ("host:6379", "bench.address"), "--space": ("macro", "bench.space"),
    "--recipe": ("digits-tiny-pgd-at", "bench.recipe"), "--sample": ("5", "bench.sample"),
    "--only": ("0,1", "bench.only"), "--shard": ("1/2", "bench.shard"), "--seeds": ("3", "bench.seeds"),
    "--proxies": ("synflow", "bench.proxies"), "--at": ("init", "bench.at"),
    "--keep-weights": ("w", "bench.keep_weights"),
    "--layout": ("nas-robbench-201", "bench.layout"), "--source-dataset": ("cifar10", "bench.source_dataset"),
    "--file": ("p.pickle", "bench.reference_file"), "--to": ("some/dir", "bench.ship_to"),
    "--commit": ("abc1234", "bench.commit"), "--after": ("pgd", "bench.cascade.after"), "--against": ("other.sqlite", "bench.correlate.against"),
    "--bootstrap": ("9", "bench.correlate.bootstrap"), "--objectives": ("clean_error", "bench.nas.objectives"),
    "--strategies": ("rs", "bench.nas.strategies"), "--queries": ("7", "bench.nas.queries"),
    "--model": ("vgg11", "models"), "--kw": ("width=3", "models"), "--label": ("L", "models"),
    "--checkpoint": ("a.pt", "checkpoints"),
}
# Where a command's flag goes elsewhere than FLAGS says.
PATHS = {
    ("bench build", "--protocol"): "bench.protocol", ("bench cascade", "--attack"): "bench.cascade.attack",
    ("bench cascade", "--eps"): "bench.cascade.eps", ("bench correlate", "--proxies"): "bench.correlate.proxies",
    ("bench nas", "--runs"): "bench.nas.runs", ("bench study", "--runs"): "bench.nas.runs",
    **{("ensemble", f"--{k}"): f"ensemble.{k}" for k in ("backend", "workers", "address")},
}
VALUES = {("bench build", "--protocol"): "eval", ("bench export", "--layout"): "robustness-dataset"}
# What a flag needs beside it to act (and the config it is compared against).
CONTEXT = {
    **{("bench build", o): ["--protocol", "eval"] for o in ("--attacks", "--eps", "--norm", "--corruptions")},
    ("bench build", "--protocol"): [], **{(c, o): ["--model", "resnet18"] for c in SHAPES for o in ("--kw", "--label")},
    **{(c, "--resume"): ["--name", "n1"] for c in SHAPES if c != "bench build"},
}
# robnas search: option -> (path for a differentiable method, path for a discrete strategy); None: refused.
SEARCH = {
    "--epochs": ("search.differentiable.epochs", "train.epochs"),
    "--batch-size": ("search.differentiable.batch_size", "train.batch_size"),
    "--lr": ("search.differentiable.lr", "train.lr"), "--adversarial": (None, "train.adversarial.enabled"),
    "--objectives": (None, "search.discrete.objectives"), "--evaluations": (None, "search.discrete.evaluations"),
    "--max-seconds": (None, "search.discrete.max_seconds"), "--val-size": (None, "data.val_size"),
    "--test-size": (None, "data.test_size"), "--space": ("search.space", "search.space"),
    "--method": ("search.method", "search.method"), "--train-size": ("data.train_size", "data.train_size"),
    **{f"--{k}": (None, f"search.discrete.{k}") for k in ("backend", "workers", "address")},
}
SEARCH_VALUES = {"--evaluations": "7", "--max-seconds": "9", "--objectives": "clean_error", "--space": "nb201",
                 "--backend": "inprocess", "--workers": "3", "--address": "host:6379", "--method": "rnas"}


def help_options(words: str, capsys) -> list[str]:
    capsys.readouterr()
    assert main([*words.split(), "--help"]) == 0
    text = capsys.readouterr().out
    return [o for o in re.findall(r"^ {2}(--[a-z][\w-]*)", text, re.M) if o not in ("--help", "--config", "--set")]


def resolve(argv: list[str]):
    return resolve_config(build_parser().parse_args(argv))


def at(cfg, path: str):
    for key in path.split("."):
        cfg = getattr(cfg, key)
    return cfg


def flag_args(option: str, value: str | None) -> list[str]:
    return [option] if value is None else [option, value]


def set_value(option: str, value: str | None, path: str) -> list[str]:
    """The ``--set`` equivalent of a flag (for the models and checkpoints: the list the flags build)."""
    if option == "--checkpoint":
        return ["--set", f'checkpoints=["{value}"]']
    if option in ("--model", "--kw", "--label"):
        model = {"--model": f'name="{value}", kwargs={{}}', "--kw": 'name="resnet18", kwargs={width=3}',
                 "--label": 'name="resnet18", kwargs={}, label="L"'}[option]
        return ["--set", f"models=[{{{model}}}]"]
    return ["--set", f"{path}={'true' if value is None else value}"]


def test_the_commands_in_the_help_are_the_declared_ones(capsys):
    capsys.readouterr()
    assert main(["--help"]) == 0
    listed = re.findall(r"^ {4}([a-z]+)\b", capsys.readouterr().out, re.M)
    assert listed == [c.name for c in COMMANDS] + ["list"]
    assert {words for words, _ in leaves()} == set(SHAPES)


@pytest.mark.parametrize("words", sorted(SHAPES))
def test_each_command_lists_only_its_own_flags(words, capsys):
    assert sorted(help_options(words, capsys)) == sorted(SHAPES[words].split())


@pytest.mark.parametrize("words", sorted(set(SHAPES) - {"search"}))
def test_every_listed_flag_reaches_its_config_path(words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    positionals = POSITIONALS.get(words, [])
    for option in help_options(words, capsys):
        value, path = FLAGS[option]
        value = VALUES.get((words, option), value)
        path = PATHS.get((words, option), path)
        context = CONTEXT.get((words, option), [])
        base = [*words.split(), *context]
        if (words, option) == ("bench export", "--layout"):  # its one layout is the default: start from another
            (tmp_path / "other.toml").write_text('[bench]\nlayout = "nas-robbench-201"\n')
            base += ["--config", str(tmp_path / "other.toml")]
        before = at(resolve([*base, *positionals]), path)
        after = at(resolve([*base, *flag_args(option, value), *positionals]), path)
        assert after != before, f"robnas {words} {option}: {path} did not change"
        assert at(resolve([*base, *positionals, *flag_args(option, value)]), path) == after, "options after positionals"
        assert at(resolve([*base, *positionals, *set_value(option, value, path)]), path) == after, (words, option)


@pytest.mark.parametrize("kind, method", [(0, "darts"), (1, "rs")])
def test_search_flags_set_the_methods_own_settings(kind, method, capsys):
    for option in help_options("search", capsys):
        path = SEARCH[option][kind] if option in SEARCH else FLAGS[option][1]
        value = SEARCH_VALUES[option] if option in SEARCH_VALUES else FLAGS[option][0]
        base = ["search", "--method", method] + (["--name", "n1"] if option == "--resume" else [])
        if option == "--method":
            base, value = ["search"], ("rnas", "nsga2")[kind]
        if path is None:
            with pytest.raises(RobnasError, match=f"{option} applies to discrete searches"):
                resolve([*base, *flag_args(option, value)])
            continue
        before = at(resolve(base), path)
        after = at(resolve([*base, *flag_args(option, value)]), path)
        assert after != before, f"robnas search --method {method} {option}: {path} did not change"
        assert at(resolve([*base, *set_value(option, value, path)]), path) == after


def test_search_epochs_is_the_search_budget_not_an_ignored_training_budget():
    cfg = resolve(["search", "--method", "advrush", "--space", "nb201", "--epochs", "1"])
    assert cfg.search.differentiable.epochs == 1 and cfg.train.epochs == 10
    cfg = resolve(["search", "--method", "rs", "--epochs", "1"])
    assert cfg.train.epochs == 1 and cfg.search.differentiable.epochs == 6


def test_config_and_set_work_for_every_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.toml").write_text("seed = 11\n")
    for words in SHAPES:
        argv = [*words.split(), *POSITIONALS.get(words, [])]
        assert resolve([*argv, "--config", "c.toml"]).seed == 11, words
        assert resolve([*argv, "--set", "seed=12"]).seed == 12, words
        assert resolve([*argv, "--config", "c.toml", "--set", "seed=12"]).seed == 12, words


def test_options_before_the_positionals(capsys):
    cfg = resolve(["bench", "export", "--layout", "robustness-dataset", "digits-nb201", "OUT"])
    assert cfg.bench.action == "export" and cfg.bench.targets == ("digits-nb201", "OUT")
    cfg = resolve(["bench", "merge", "OUT", "--quiet", "P1", "P2"])
    assert cfg.bench.targets == ("OUT", "P1", "P2") and cfg.quiet
