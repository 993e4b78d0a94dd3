"""The ``robnas`` command line: train, eval, run, list.

Every command reads an optional TOML config, applies its flags and ``--set section.key=value``
overrides on top, writes the resolved config into its run directory and ends by printing where
its results are. Bad input prints one ``error:`` line and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from robnas.errors import InvalidValueError, RobnasError

COMMON_FLAGS = {
    # flag -> (config path, argparse kwargs)
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
    "--protocol": ("eval.protocol", {"help": "named evaluation protocol replacing the attack suite: devaguptapu, "
                                              "jung, advrush, rnas (robnas list protocols)"}),
    "--corruptions": ("eval.corruptions", {"help": "common corruptions to report: all, or comma-separated names"}),
    "--baseline": ("eval.baseline", {"help": "model label used as the PP-HRS baseline"}),
}

SEARCH_FLAGS = {
    "--space": ("search.space", {"help": "search space: darts, nb201 or macro"}),
    "--method": ("search.method", {"help": "search method: darts, advrush, rnas (differentiable); "
                                             "nsga2, rs, ls, re, bananas (discrete)"}),
    "--evaluations": ("search.discrete.evaluations", {"type": int, "help": "discrete search: architectures to "
                                                      "evaluate (cache hits included)"}),
    "--max-seconds": ("search.discrete.max_seconds", {"type": float, "help": "discrete search: wall-time budget"}),
    "--backend": ("search.discrete.backend", {"help": "discrete search: inprocess, local (process pool, "
                                              "default) or ray"}),
    "--workers": ("search.discrete.workers", {"type": int, "help": "parallel evaluations (0 = one per core)"}),
    "--address": ("search.discrete.address", {"help": "Ray cluster address (--backend ray); default: local Ray"}),
}


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML config file (see configs/)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.epochs=5 (repeatable)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run named by --name (default: the newest run of this command)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or log echo")
    p.add_argument("--adversarial", action="store_true", help="PGD adversarial training (Madry et al.)")
    for flag, (_, kw) in COMMON_FLAGS.items():
        p.add_argument(flag, default=None, **kw)


def _add_models(p: argparse.ArgumentParser, many: bool) -> None:
    p.add_argument("--model", action="append" if many else "store", default=None,
                   help="registered model name (robnas list models)" + (" (repeatable)" if many else ""))
    p.add_argument("--kw", action="append", default=[], metavar="KEY=VALUE",
                   help="model keyword argument, e.g. --kw C=16 --kw layers=8 (applies to every --model)")
    p.add_argument("--label", help="row label of the model in reports")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="robnas", description="Adversarially robust neural architecture search.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train one model (standard or PGD adversarial training)")
    _add_models(train, many=False)
    _add_common(train)
    ev = sub.add_parser("eval", help="attack trained checkpoints or registered models; Table 1 report + plot")
    ev.add_argument("--checkpoint", action="append", default=[], help="checkpoint .pt file (repeatable)")
    _add_models(ev, many=True)
    _add_common(ev)
    tr = sub.add_parser("transfer", help="transfer attacks: source x target accuracy matrix (AdvRush Table 2)")
    tr.add_argument("--checkpoint", action="append", default=[], help="checkpoint .pt file (repeatable)")
    tr.add_argument("--attack", default="pgd", help="attack crafted on each source (default pgd; PGD-20 as AdvRush)")
    tr.add_argument("--steps", type=int, default=20, help="iterations of the source attack (default 20)")
    _add_models(tr, many=True)
    _add_common(tr)
    adv = sub.add_parser("advset", help="build a pre-generated adversarial set (RoCo-NAS) or score models on one")
    adv.add_argument("action", choices=["build", "eval"])
    adv.add_argument("--checkpoint", action="append", default=[], help="source (build) or scored (eval) model file")
    adv.add_argument("--advset", help="set directory: written by build (must not exist), read by eval")
    adv.add_argument("--thresholds", default="1,3,5,10",
                     help="comma-separated thresholds: pixels for L0 attacks, 1/255 units for Linf (default 1,3,5,10)")
    _add_models(adv, many=True)
    _add_common(adv)
    se = sub.add_parser("search", help="architecture search: differentiable (darts, advrush, rnas) "
                                       "or discrete (nsga2, rs, ls, re, bananas)")
    se.add_argument("--objectives", default=None,
                    help="discrete search: comma-separated objectives, e.g. clean_error,flops,advset_error")
    for flag, (_, kw) in SEARCH_FLAGS.items():
        se.add_argument(flag, default=None, **kw)
    _add_common(se)
    run = sub.add_parser("run", help="the main job: search (when [searched] is enabled), train and evaluate "
                                     "the configured models, write the report")
    _add_common(run)
    la = sub.add_parser("landscape", help="input loss landscape along the gradient sign and a random direction "
                                          "(AdvRush Figure 3): JSON grid + PNG")
    la.add_argument("--checkpoint", action="append", default=[], help="checkpoint .pt file (repeatable)")
    la.add_argument("--points", type=int, default=None, help="test points the loss is averaged over (default 100)")
    la.add_argument("--range", default=None, help="half-width R of the grid over [-R, R]^2, e.g. 8/255 (default)")
    la.add_argument("--resolution", type=int, default=None, help="grid points per axis, odd (default 21)")
    la.add_argument("--per-point", action="store_true", help="also store every point's grid in the JSON")
    _add_models(la, many=True)
    _add_common(la)
    ls = sub.add_parser("list", help="list registered models, attacks, datasets, corruptions, protocols, "
                                     "search spaces, strategies or objectives")
    ls.add_argument("kind", choices=sorted(LISTINGS))
    ls.add_argument("pattern", nargs="?", default="*")
    return parser


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value


def _parse_kw(items: list[str]) -> dict[str, Any]:
    from robnas.config.loading import _parse_override_value

    kwargs: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise InvalidValueError(f"--kw {item!r} is not of the form key=value, e.g. --kw C=16")
        key, raw = item.split("=", 1)
        kwargs[key.strip()] = _parse_override_value(raw.strip())
    return kwargs


def resolve_config(args: argparse.Namespace, command: str) -> Any:
    """Config file, then flags, then ``--set`` overrides -> a frozen RunConfig."""
    from robnas.config import apply_overrides, config_from_dict
    from robnas.config.schema import RunConfig

    from robnas.config.loading import read_toml

    data: dict[str, Any] = read_toml(args.config) if args.config else {}
    for flag, (path, _) in {**COMMON_FLAGS, **SEARCH_FLAGS}.items():
        value = getattr(args, flag.lstrip("-").replace("-", "_"), None)  # search flags exist on `search` only
        if value is not None:
            _set_path(data, path, value)
    if args.quiet:
        data["quiet"] = True
    if args.adversarial:
        _set_path(data, "train.adversarial.enabled", True)
    names = getattr(args, "model", None)
    if names:
        names = [names] if isinstance(names, str) else names
        kwargs = _parse_kw(args.kw)
        data["models"] = [{"name": n, "kwargs": dict(kwargs)} for n in names]
        if args.label:
            data["models"][0]["label"] = args.label
    if args.resume and "name" not in data:
        from robnas.store.run_dir import RunDir

        out = data.get("out", "runs")
        latest = RunDir.latest(out, command)
        if latest is None:
            raise InvalidValueError(f"--resume: no earlier `{command}` run under {out}/; pass --name of the run")
        data["name"] = latest.name
    return config_from_dict(RunConfig, apply_overrides(data, args.set))


def cmd_train(args: argparse.Namespace) -> Path:
    from robnas.config import config_to_dict
    from robnas.pipeline.study import build_model, prepare_data, tune_threads, validate_models
    from robnas.device import resolve_device
    from robnas.store.run_dir import RunDir
    from robnas.train import train_model
    from robnas.train.trainer import clean_accuracy

    cfg = resolve_config(args, "train")
    if len(cfg.models) != 1:
        raise InvalidValueError("robnas train trains one model; give exactly one --model (or one [[models]])")
    mc = cfg.models[0]
    device = resolve_device(cfg.device)
    data = prepare_data(cfg.data, device, cfg.seed)
    validate_models(cfg.models, data.dataset)
    run = RunDir.create(cfg.out, cfg.name, "train", quiet=cfg.quiet)
    run.write_config(config_to_dict(cfg))
    run.log(f"training {mc.name} on {data.dataset.name} ({len(data.train)} points) on {device}")
    model = build_model(mc, data.dataset, cfg.seed)
    tune_threads(model, data.dataset, cfg)
    result = train_model(model, data.train, data.val, cfg.train, run, seed=cfg.seed, resume=args.resume,
                         quiet=cfg.quiet, extra={"dataset": data.dataset.name, "label": mc.label or mc.name})
    acc = clean_accuracy(result.model, data.dataset.test)
    run.log(f"test accuracy {100 * acc:.2f}% after {len(result.history)} epochs ({result.seconds:.1f}s)")
    return run.checkpoints


def cmd_eval(args: argparse.Namespace) -> Path:
    from robnas.pipeline import evaluate_checkpoints

    cfg = resolve_config(args, "eval")
    if not args.checkpoint and not args.model:
        raise InvalidValueError("robnas eval needs --checkpoint PATH (trained) or --model NAME (untrained)")
    return evaluate_checkpoints(cfg, args.checkpoint, cfg.models if args.model else (), resume=args.resume).results


def cmd_transfer(args: argparse.Namespace) -> Path:
    from robnas.pipeline.study import run_transfer

    cfg = resolve_config(args, "transfer")
    cfg = replace(cfg, eval=replace(cfg.eval, steps=args.steps))
    return run_transfer(cfg, args.checkpoint, cfg.models if args.model else (), args.attack).results


def cmd_advset(args: argparse.Namespace) -> Path:
    from robnas.pipeline.advset_jobs import build_set, score_set

    cfg = resolve_config(args, "advset")
    if not args.advset:
        raise InvalidValueError("robnas advset needs --advset DIR (the set to build or to score on)")
    models = cfg.models if args.model else ()
    if args.action == "build":
        try:
            thresholds = [float(t) for t in args.thresholds.split(",") if t.strip()]
        except ValueError as exc:
            raise InvalidValueError(f"--thresholds {args.thresholds!r} must be numbers like 1,3,5,10") from exc
        return build_set(cfg, args.checkpoint, models, thresholds, Path(args.advset))
    return score_set(cfg, args.checkpoint, models, Path(args.advset)).results


DIFFERENTIABLE_METHODS = ("darts", "advrush", "rnas")
DISCRETE_METHODS = ("nsga2", "rs", "ls", "re", "bananas")


def cmd_search(args: argparse.Namespace) -> Path:
    """Dispatch on the method: one-shot supernet search or a black-box discrete search."""
    cfg = resolve_config(args, "search")
    method = cfg.search.method.lower()
    if method in DIFFERENTIABLE_METHODS:
        from robnas.pipeline.differentiable_search import run_differentiable_search

        return run_differentiable_search(cfg, resume=args.resume).results
    if method in DISCRETE_METHODS:
        from robnas.pipeline.discrete_search import run_discrete_search

        if args.objectives:
            objectives = tuple(o.strip() for o in args.objectives.split(",") if o.strip())
            cfg = replace(cfg, search=replace(cfg.search, discrete=replace(cfg.search.discrete, objectives=objectives)))
        return run_discrete_search(cfg, resume=args.resume)
    raise InvalidValueError(f"unknown search method {cfg.search.method!r}; choose one of: "
                            f"{', '.join(DIFFERENTIABLE_METHODS + DISCRETE_METHODS)}")


def cmd_run(args: argparse.Namespace) -> Path:
    from robnas.pipeline import run_study

    cfg = resolve_config(args, "run")
    return run_study(cfg, resume=args.resume).results


def cmd_landscape(args: argparse.Namespace) -> Path:
    from robnas.pipeline.landscape_job import run_landscape

    flags = {"points": args.points, "eps_range": args.range, "resolution": args.resolution,
             "per_point": True if args.per_point else None}
    args.set = [f"landscape.{key}={value}" for key, value in flags.items() if value is not None] + args.set
    cfg = resolve_config(args, "landscape")
    return run_landscape(cfg, args.checkpoint, cfg.models if args.model else ()).results


# `robnas list KIND`: the module and function that list each registry (imported only when asked).
LISTINGS = {
    "models": ("robnas.models", "list_models"),
    "attacks": ("robnas.attacks", "list_attacks"),
    "datasets": ("robnas.data", "list_datasets"),
    "corruptions": ("robnas.corruptions", "list_corruptions"),
    "protocols": ("robnas.evaluation", "list_protocols"),
    "spaces": ("robnas.spaces", "list_spaces"),
    "strategies": ("robnas.search.discrete.strategy", "list_strategies"),
    "objectives": ("robnas.search.discrete.objectives", "list_objectives"),
}


def cmd_list(args: argparse.Namespace) -> None:
    import importlib

    module, function = LISTINGS[args.kind]
    for name in getattr(importlib.import_module(module), function)(args.pattern):
        print(name)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            cmd_list(args)
            return 0
        where = {"train": cmd_train, "eval": cmd_eval, "run": cmd_run, "transfer": cmd_transfer,
                 "advset": cmd_advset, "search": cmd_search, "landscape": cmd_landscape}[args.command](args)
    except RobnasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: completed epochs and evaluations are saved; rerun the same command with --resume",
              file=sys.stderr)
        return 130
    print(f"results: {Path(where).resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
