"""The ``robnas`` command line: it only parses.

Every command reads an optional TOML config, puts each flag at its config path (the tables below),
applies ``--set section.key=value`` overrides on top, resolves the config once and hands it to the
command's job (``robnas.pipeline.<module>.run(cfg)``), which validates everything before it writes
anything. Bad input prints one ``error:`` line and exits with status 2. Plugins (entry points in the
group ``robnas.plugins``) are imported first, so their components are accepted like built-in ones.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import Any

from robnas.config.shipped import MAIN_JOB
from robnas.errors import InvalidValueError, RobnasError

# flag -> (config path, argparse kwargs); every command has these.
COMMON_FLAGS: dict[str, tuple[str, dict[str, Any]]] = {
    "--dataset": ("data.name", {"help": "dataset name (robnas list datasets)"}),
    "--data-root": ("data.root", {"help": "directory holding the dataset files"}),
    "--train-size": ("data.train_size", {"type": int, "help": "deterministic training subset size"}),
    "--test-size": ("data.test_size", {"type": int, "help": "deterministic test subset size"}),
    "--val-size": ("data.val_size", {"type": int, "help": "training points held out for best-checkpoint selection"}),
    "--epochs": ("train.epochs", {"type": int}),
    "--batch-size": ("train.batch_size", {"type": int}),
    "--lr": ("train.lr", {"type": float}),
    "--seed": ("seed", {"type": int}),
    "--threads": ("threads", {"type": int, "help": "CPU threads; 0 = auto (1 for small networks)"}),
    "--device": ("device", {"help": "auto (CUDA when present), cpu or cuda[:N]"}),
    "--out": ("out", {"help": "parent directory of run directories (default runs/)"}),
    "--name": ("name", {"help": "run directory name (default: command + timestamp)"}),
    "--attacks": ("eval.attacks", {"help": "comma-separated attack names (robnas list attacks)"}),
    "--eps": ("eval.eps", {"help": "comma-separated epsilons, e.g. 2/255,8/255"}),
    "--norm": ("eval.norm", {"help": "Linf or L2"}),
    "--protocol": ("eval.protocol", {"help": "named evaluation protocol replacing the attack suite "
                                              "(robnas list protocols)"}),
    "--corruptions": ("eval.corruptions", {"help": "common corruptions to report: all, or comma-separated names"}),
    "--baseline": ("eval.baseline", {"help": "model label used as the PP-HRS baseline"}),
}
# Boolean switches: flag -> (config path, help).
SWITCHES: dict[str, tuple[str, str]] = {
    "--resume": ("resume", "continue the run named by --name (default: the newest run of this command)"),
    "--quiet": ("quiet", "no progress bars or log echo"),
    "--adversarial": ("train.adversarial.enabled", "PGD adversarial training (Madry et al.)"),
}
# Flags of single commands.
COMMAND_FLAGS: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {
    "search": {
        "--space": ("search.space", {"help": "search space (robnas list spaces)"}),
        "--method": ("search.method", {"help": "differentiable method (robnas list methods) or discrete "
                                               "strategy (robnas list strategies)"}),
        "--objectives": ("search.discrete.objectives", {"help": "discrete search: comma-separated objectives, "
                                                                "e.g. clean_error,flops,advset_error"}),
        "--evaluations": ("search.discrete.evaluations", {"type": int, "help": "discrete search: architectures "
                                                          "to evaluate (cache hits included)"}),
        "--max-seconds": ("search.discrete.max_seconds", {"type": float, "help": "discrete search: wall-time budget"}),
        "--backend": ("search.discrete.backend", {"help": "discrete search: inprocess, local (process pool, "
                                                  "default) or ray"}),
        "--workers": ("search.discrete.workers", {"type": int, "help": "parallel evaluations (0 = one per core)"}),
        "--address": ("search.discrete.address", {"help": "Ray cluster address (--backend ray); default: local Ray"}),
    },
    "transfer": {
        "--attack": ("transfer.attack", {"help": "attack crafted on each source (default pgd, PGD-20 as AdvRush)"}),
        "--steps": ("transfer.steps", {"type": int, "help": "iterations of the source attack (default 20)"}),
    },
    "advset": {
        "--advset": ("advset.path", {"help": "set directory: written by build (must not exist), read by eval"}),
        "--thresholds": ("advset.thresholds", {"help": "comma-separated thresholds: pixels for L0 attacks, 1/255 "
                                                       "units for Linf (default 1,3,5,10)"}),
    },
    "bench": {
        "--space": ("bench.space", {"help": "build: search space (robnas list spaces)"}),
        "--recipe": ("bench.recipe", {"help": "build: training recipe (robnas list recipes)"}),
        "--protocol": ("bench.protocol", {"help": "build: evaluation protocol (robnas list protocols)"}),
        "--sample": ("bench.sample", {"type": int, "help": "build: architectures, stratified by parameter count "
                                                          "(default: the whole space)"}),
        "--only": ("bench.only", {"help": "build: comma-separated architectures (arch strings, keys or ids)"}),
        "--shard": ("bench.shard", {"help": "build: K/M builds every M-th architecture from the K-th, so that M "
                                              "builds (machines, sessions) share a space; `bench merge` joins them"}),
        "--backend": ("bench.backend", {"help": "inprocess, local (process pool, default) or ray"}),
        "--workers": ("bench.workers", {"type": int, "help": "parallel architectures (0 = one per core)"}),
        "--address": ("bench.address", {"help": "Ray cluster address (--backend ray)"}),
        "--proxies": ("bench.proxies", {"help": "comma-separated proxies to compute (robnas list proxies)"}),
        "--at": ("bench.at", {"help": "proxies: init, trained or init,trained (default both)"}),
        "--keep-weights": ("bench.keep_weights", {"help": "build: keep every trained network in this directory"}),
        "--layout": ("bench.layout", {"help": "export: on-disk layout (robustness-dataset)"}),
        "--source-dataset": ("bench.source_dataset", {"help": "import: dataset folder to read (default: the only one)"}),
        "--bootstrap": ("bench.correlate.bootstrap", {"type": int, "help": "correlate, study: bootstrap resamples of "
                                                                          "the architectures (default 200; 0 = none)"}),
        "--objectives": ("bench.nas.objectives", {"help": "nas, study: comma-separated objectives, one table each "
                                                          "(default: FGSM error at the benchmark's reference radius)"}),
        "--runs": ("bench.nas.runs", {"type": int, "help": "nas, study: seeded runs per strategy (default 100)"}),
        "--queries": ("bench.nas.queries", {"type": int, "help": "nas, study: lookups per run (default 100)"}),
    },
    "ensemble": {
        "--cells": ("ensemble.cells", {"help": "cells of each member, comma-separated, summing to --total-cells "
                                               "(default 12,6,2)"}),
        "--total-cells": ("ensemble.total_cells", {"type": int, "help": "cells of one full network (default 20)"}),
        "--runs": ("ensemble.runs", {"type": int, "help": "sample-train-ensemble runs and single random networks "
                                                         "(default 4)"}),
        "--backend": ("ensemble.backend", {"help": "where networks train: inprocess, local (process pool, default) "
                                                   "or ray"}),
        "--workers": ("ensemble.workers", {"type": int, "help": "networks trained at once (0 = one per core)"}),
        "--address": ("ensemble.address", {"help": "Ray cluster address (--backend ray)"}),
    },
    "landscape": {
        "--points": ("landscape.points", {"type": int, "help": "test points the loss is averaged over (default 100)"}),
        "--range": ("landscape.eps_range", {"help": "half-width R of the grid over [-R, R]^2, e.g. 8/255 (default)"}),
        "--resolution": ("landscape.resolution", {"type": int, "help": "grid points per axis, odd (default 21)"}),
    },
}
COMMAND_SWITCHES: dict[str, dict[str, tuple[str, str]]] = {
    "landscape": {"--per-point": ("landscape.per_point", "also store every point's grid in the JSON")},
}

# command -> (job module, help, takes --model (1 or many), takes --checkpoint)
COMMANDS: dict[str, tuple[str, str, str | None, bool]] = {
    "train": ("robnas.pipeline.train", "train one model (standard or PGD adversarial training)", "one", False),
    "eval": ("robnas.pipeline.evaluate", "attack trained checkpoints or registered models; Table 1 report + plot",
             "many", True),
    "transfer": ("robnas.pipeline.transfer", "transfer attacks: source x target accuracy matrix (AdvRush Table 2)",
                 "many", True),
    "advset": ("robnas.pipeline.advset", "build a pre-generated adversarial set (RoCo-NAS) or score models on one",
               "many", True),
    "search": ("robnas.pipeline.search", "architecture search: a differentiable method (darts, advrush, rnas) or a "
                                         "discrete strategy (nsga2, rs, ls, re, bananas)", None, False),
    "run": ("robnas.pipeline.run", "the main job: search (when [searched] is enabled), train and evaluate the "
                                   "configured models, write the report", None, False),
    "landscape": ("robnas.pipeline.landscape", "input loss landscape along the gradient sign and a random "
                                               "direction (AdvRush Figure 3): JSON grid + PNG", "many", True),
    "ensemble": ("robnas.pipeline.ensemble", "random-cell ensembles vs single random and published DARTS cells "
                                             "(Devaguptapu et al. Table 6), attacked end to end", None, False),
    "bench": ("robnas.pipeline.bench", "robustness benchmarks over a whole space: build, show, import, export, "
                                       "proxies, correlate, nas, design, study", None, False),
}
# Commands that read a shipped config unless given --config: the main job, and the ensemble experiment on digits.
DEFAULT_CONFIGS = {"run": MAIN_JOB, "ensemble": "digits_ensemble"}
# Commands whose --resume continues the file they are given, not the newest run directory.
RESUMES_A_FILE = ("bench",)
# Commands with positional arguments: command -> (config path of the first, help, config path of the rest).
POSITIONALS: dict[str, tuple[tuple[str, dict[str, Any]], ...]] = {
    "advset": (("advset.action", {"choices": ["build", "eval"]}),),
    "bench": (("bench.action", {"help": "build | show | import | export | proxies | correlate | nas | design | "
                                        "study"}),
              ("bench.targets", {"nargs": "*", "help": "the action's arguments: a benchmark file or shipped name, "
                                                      "architectures, directories"})),
}


def _add_flags(p: argparse.ArgumentParser, command: str) -> None:
    default = DEFAULT_CONFIGS.get(command)
    p.add_argument("--config", default=default,
                   help="TOML config file or shipped config name (robnas list configs)"
                        + (f"; default {default}" if default else ""))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.epochs=5 (repeatable)")
    for flag, (_, text) in {**SWITCHES, **COMMAND_SWITCHES.get(command, {})}.items():
        p.add_argument(flag, action="store_true", help=text)
    for flag, (_, kw) in {**COMMON_FLAGS, **COMMAND_FLAGS.get(command, {})}.items():
        p.add_argument(flag, default=None, **kw)
    _, _, models, checkpoints = COMMANDS[command]
    if checkpoints:
        p.add_argument("--checkpoint", action="append", default=[], help="checkpoint .pt file (repeatable)")
    if models:
        p.add_argument("--model", action="append" if models == "many" else "store", default=None,
                       help="registered model name (robnas list models)" + (" (repeatable)" if models == "many" else ""))
        p.add_argument("--kw", action="append", default=[], metavar="KEY=VALUE",
                       help="model keyword argument, e.g. --kw C=16 --kw layers=8 (applies to every --model)")
        p.add_argument("--label", help="row label of the model in reports")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="robnas", description="Adversarially robust neural architecture search.")
    sub = parser.add_subparsers(dest="command", required=True)
    for command, (_, text, _, _) in COMMANDS.items():
        p = sub.add_parser(command, help=text)
        for path, kw in POSITIONALS.get(command, ()):
            p.add_argument(path.replace(".", "_"), **kw)
        _add_flags(p, command)
    ls = sub.add_parser("list", help="list the registered components of one kind (robnas list kinds)")
    ls.add_argument("kind")
    ls.add_argument("pattern", nargs="?", default="*")
    return parser


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value


def _parse_kw(items: list[str]) -> dict[str, Any]:
    from robnas.config.loading import parse_override_value

    kwargs: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise InvalidValueError(f"--kw {item!r} is not of the form key=value, e.g. --kw C=16")
        key, raw = item.split("=", 1)
        kwargs[key.strip()] = parse_override_value(raw.strip())
    return kwargs


def config_data(args: argparse.Namespace) -> dict[str, Any]:
    """The config file's data with every given flag put at its config path (before ``--set``)."""
    from robnas.config.loading import read_toml

    command = args.command
    data: dict[str, Any] = read_toml(args.config) if args.config else {}
    for flag, (path, _) in {**COMMON_FLAGS, **COMMAND_FLAGS.get(command, {})}.items():
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is not None:
            _set_path(data, path, value)
    for flag, (path, _) in {**SWITCHES, **COMMAND_SWITCHES.get(command, {})}.items():
        if getattr(args, flag.lstrip("-").replace("-", "_")):
            _set_path(data, path, True)
    for path, _ in POSITIONALS.get(command, ()):
        value = getattr(args, path.replace(".", "_"))
        if value not in (None, []):
            _set_path(data, path, value)
    if getattr(args, "checkpoint", None):
        data["checkpoints"] = list(args.checkpoint)
    names = getattr(args, "model", None)
    if names:
        kwargs = _parse_kw(args.kw)
        data["models"] = [{"name": n, "kwargs": dict(kwargs)} for n in ([names] if isinstance(names, str) else names)]
        if args.label:
            data["models"][0]["label"] = args.label
    return data


def resolve_config(args: argparse.Namespace) -> Any:
    """Config file, then flags, then ``--set`` overrides -> the frozen RunConfig (resolved once)."""
    from robnas.config import apply_overrides, config_from_dict
    from robnas.pipeline.config import RunConfig

    data = apply_overrides(config_data(args), args.set)
    if data.get("resume") and "name" not in data and args.command not in RESUMES_A_FILE:
        from robnas.store.run_dir import RunDir

        out = data.get("out", "runs")
        latest = RunDir.latest(out, args.command)
        if latest is None:
            raise InvalidValueError(f"--resume: no earlier `{args.command}` run under {out}/; pass --name of the run")
        data["name"] = latest.name
    return config_from_dict(RunConfig, data)


def cmd_list(kind: str, pattern: str) -> None:
    from robnas.registry import kinds, registry

    if kind == "kinds":
        print("\n".join(kinds()))
        return
    for name in registry(kind).names(pattern):
        print(name)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from robnas.plugins import load_plugins

        load_plugins()
        if args.command == "list":
            cmd_list(args.kind, args.pattern)
            sys.stdout.flush()
            return 0
        cfg = resolve_config(args)
        where = importlib.import_module(COMMANDS[args.command][0]).run(cfg)
    except RobnasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: completed epochs and evaluations are saved; rerun the same command with --resume",
              file=sys.stderr)
        return 130
    except BrokenPipeError:
        return closed_pipe()
    from robnas.distributed import current

    try:
        if current().is_main:  # one line per job, not one per torchrun rank
            print(f"results: {Path(where).resolve()}")
        sys.stdout.flush()  # a pipe's buffer is written here, not at exit, where a closed reader would go unhandled
    except BrokenPipeError:
        return closed_pipe()
    return 0


def closed_pipe() -> int:
    """The reader of our stdout went away (`robnas bench show ... | head`): stop quietly, as `cat` does.

    Python would otherwise print a traceback, and again at exit when it flushes stdout; pointing
    stdout at /dev/null silences the second one. 141 is the shell's status for a SIGPIPE death."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141


if __name__ == "__main__":
    sys.exit(main())
