"""The ``robnas`` command line: it only parses.

Every command (and every action of ``bench`` and ``advset``) is its own subcommand with the flags its
job reads (:mod:`robnas.cli_flags`: each flag declared once, with its config path; shared groups as
argparse parent parsers). A command reads an optional TOML config, puts each flag given at its config
path, applies ``--set section.key=value`` overrides on top, resolves the config once and hands it to
the command's job (``robnas.pipeline.<module>.run(cfg)``), which validates everything before it
writes anything. Bad input prints one ``error:`` line and exits with status 2. Plugins (entry points
in the group ``robnas.plugins``) are imported first, so their components are accepted like built-in ones.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from robnas.cli_flags import COMMANDS, Command, Flag, Group, leaves, paths_of
from robnas.errors import InvalidValueError, RobnasError

# The config machinery, the jobs and torch are imported inside the functions that use them, so that
# `--help`, a refused flag and `robnas list` answer at once (importing torch takes seconds).


class Parser(argparse.ArgumentParser):
    """argparse with robnas' one-line refusals (argparse prints its usage first)."""

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        argv = list(sys.argv[1:] if args is None else args)
        parsed, extras = self.parse_known_args(argv, namespace)
        leaf = getattr(parsed, "_parser", None)
        if extras and leaf is not None:
            # argparse stops filling a list positional at the first option (`bench show B --set k=v ARCH`);
            # the command's own parser reads its words intermixed, and refuses what it does not know.
            words = 1 + (parsed._action is not None)
            vars(parsed).update(vars(leaf.parse_intermixed_args(argv[words:])))
        elif extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed

    def error(self, message: str) -> NoReturn:
        hint = _elsewhere(message) if message.startswith("unrecognized arguments") else ""
        self.exit(2, f"error: {self.prog}: {message}{hint}; see {self.prog} --help\n")


def _elsewhere(message: str) -> str:
    """For an option this command does not take: the commands that do (a flag is offered only where it acts)."""
    for word in message.split(":", 1)[1].split():
        option = word.split("=", 1)[0]
        if option.startswith("--"):
            owners = [name for name, spec in leaves() if any(f.option == option for f in spec.flags())]
            if len(owners) > 5:
                return f" ({option} is an option of {len(owners)} other commands, not of this one)"
            return f" ({option} is an option of: {', '.join(owners)})" if owners else ""
    return ""


# --- the parser -----------------------------------------------------------------------------------


def _add_flag(container: Any, f: Flag) -> None:
    kw: dict[str, Any] = {"dest": f.dest, "default": argparse.SUPPRESS, "help": f.help}
    if f.switch:
        container.add_argument(f.option, action="store_true", **kw)
    else:
        container.add_argument(f.option, type=f.type, metavar=f.metavar, choices=f.choices, **kw)


def _parent(group: Group, made: dict[int, argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """The parent parser of a flag group (made once per group, shared by every command that has it)."""
    if id(group) not in made:
        parent = Parser(add_help=False)
        container = parent.add_argument_group(group.title)
        for f in group.flags:
            _add_flag(container, f)
        made[id(group)] = parent
    return made[id(group)]


def _add_leaf(sub: Any, spec: Command, owner: Command | None, made: dict[int, argparse.ArgumentParser]) -> None:
    """The parser of one runnable command (a command without actions, or one action of ``owner``)."""
    p = sub.add_parser(spec.name, help=spec.help, description=spec.help,
                       parents=[_parent(g, made) for g in spec.groups])
    p.set_defaults(_command=owner or spec, _action=spec if owner else None, _parser=p)
    for pos in spec.positionals:
        p.add_argument(f"_{pos.metavar.lower()}", metavar=pos.metavar, nargs=pos.nargs, help=pos.help)
    if spec.models or spec.checkpoints:
        models = p.add_argument_group("models")
        if spec.checkpoints:
            models.add_argument("--checkpoint", action="append", default=[], metavar="PATH",
                                help="checkpoint .pt file (repeatable)")
        if spec.models:
            many = spec.models == "many"
            models.add_argument("--model", action="append" if many else "store", default=None, metavar="NAME",
                                help="registered model name (robnas list models)" + (" (repeatable)" if many else ""))
            models.add_argument("--kw", action="append", default=[], metavar="KEY=VALUE",
                                help="model keyword argument, e.g. --kw C=16 --kw layers=8 (applies to every --model)")
            models.add_argument("--label", help="row label of the (first) model in reports")
    default = (owner or spec).config
    config = p.add_argument_group("config")
    config.add_argument("--config", default=default, metavar="FILE",
                        help="TOML config file or shipped config name (robnas list configs)"
                             + (f"; default {default}" if default else ""))
    config.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.epochs=5 (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="robnas", description="Adversarially robust neural architecture search.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    made: dict[int, argparse.ArgumentParser] = {}
    for command in COMMANDS:
        if not command.actions:
            _add_leaf(sub, command, None, made)
            continue
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        actions = p.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions")
        for action in command.actions:
            _add_leaf(actions, action, command, made)
    ls = sub.add_parser("list", help="list the registered components of one kind (robnas list kinds)")
    ls.add_argument("kind")
    ls.add_argument("pattern", nargs="?", default="*")
    return parser


# --- flags -> config ------------------------------------------------------------------------------


def _spec(args: argparse.Namespace) -> Command:
    return args._action or args._command


def _words(args: argparse.Namespace) -> str:
    return f"robnas {args._command.name}" + (f" {args._action.name}" if args._action else "")


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value


def _get(cfg: Any, path: str) -> Any:
    for key in path.split("."):
        cfg = getattr(cfg, key)
    return cfg


def _parse_kw(items: list[str]) -> dict[str, Any]:
    from robnas.config.loading import parse_override_value

    kwargs: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise InvalidValueError(f"--kw {item!r} is not of the form key=value, e.g. --kw C=16")
        key, raw = item.split("=", 1)
        kwargs[key.strip()] = parse_override_value(raw.strip())
    return kwargs


def _given(args: argparse.Namespace) -> list[tuple[Flag, Any]]:
    """The flags on the command line, with their values (absent flags are not in the namespace)."""
    return [(f, getattr(args, f.dest)) for f in _spec(args).flags() if hasattr(args, f.dest)]


def config_data(args: argparse.Namespace) -> dict[str, Any]:
    """The config file's data with every given flag of a fixed path put there (before ``--set``)."""
    from robnas.config.loading import read_toml

    spec = _spec(args)
    data: dict[str, Any] = read_toml(args.config) if args.config else {}
    for f, value in _given(args):
        if isinstance(f.path, str):
            _set_path(data, f.path, True if f.switch else value)
    if args._action is not None:
        _set_path(data, args._command.action_path, args._action.name)
    targets: list[str] = []
    for pos in spec.positionals:
        value = getattr(args, f"_{pos.metavar.lower()}")
        targets += value if isinstance(value, list) else [value]
    if spec.positional_path and targets:
        _set_path(data, spec.positional_path, targets)
    if getattr(args, "checkpoint", None):
        data["checkpoints"] = list(args.checkpoint)
    names = getattr(args, "model", None)
    if names:
        kwargs = _parse_kw(args.kw)
        data["models"] = [{"name": n, "kwargs": dict(kwargs)} for n in ([names] if isinstance(names, str) else names)]
        if args.label:
            data["models"][0]["label"] = args.label
    elif getattr(args, "kw", None) or getattr(args, "label", None):
        raise InvalidValueError(f"{_words(args)}: --kw and --label describe a --model; give --model NAME")
    return data


def _route(args: argparse.Namespace, data: dict[str, Any]) -> None:
    """Put the flags whose path depends on the search method (``robnas search --epochs``) at the method's path."""
    from robnas.config import apply_overrides, config_from_dict
    from robnas.pipeline.config import RunConfig
    from robnas.pipeline.search import method_kind

    routed = [(f, value) for f, value in _given(args) if not isinstance(f.path, str)]
    if not routed:
        return
    method = config_from_dict(RunConfig, apply_overrides(data, args.set)).search.method
    kind = method_kind(method)  # an unknown method: the job's own one-line error, now
    for f, value in routed:
        path = paths_of(f).get(kind)
        if path is None:
            other = next(k for k, p in paths_of(f).items() if p)
            raise InvalidValueError(f"{_words(args)}: {f.option} applies to {other} searches, not to the {kind} "
                                    f"method {method!r}; drop {f.option}")
        _set_path(data, path, True if f.switch else value)


def _check_needs(args: argparse.Namespace, cfg: Any) -> None:
    """A flag that the rest of the config would leave without effect is refused (it must change what runs)."""
    for f, _ in _given(args):
        if f.needs is not None:
            actual = _get(cfg, f.needs.path)
            if actual != f.needs.value:
                raise InvalidValueError(f"{_words(args)}: " + f.needs.why.format(option=f.option, actual=actual))


def resolve_config(args: argparse.Namespace) -> Any:
    """Config file, then flags, then ``--set`` overrides -> the frozen RunConfig (resolved once)."""
    from robnas.config import apply_overrides, config_from_dict
    from robnas.pipeline.config import RunConfig

    data = config_data(args)
    _route(args, data)
    data = apply_overrides(data, args.set)
    if data.get("resume") and "name" not in data and not _spec(args).resumes_file:
        from robnas.store.run_dir import RunDir

        out = data.get("out", "runs")
        latest = RunDir.latest(out, args.command)
        if latest is None:
            raise InvalidValueError(f"--resume: no earlier `{args.command}` run under {out}/; pass --name of the run")
        data["name"] = latest.name
    cfg = config_from_dict(RunConfig, data)
    _check_needs(args, cfg)
    return cfg


# --- main -----------------------------------------------------------------------------------------


def cmd_list(kind: str, pattern: str) -> None:
    from robnas.registry import kinds, registry

    if kind == "kinds":
        print("\n".join(kinds()))
        return
    for name in registry(kind).names(pattern):
        print(name)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or the one error line: a status for in-process callers too
        return int(exc.code or 0)
    try:
        from robnas.plugins import load_plugins

        load_plugins()
        if args.command == "list":
            cmd_list(args.kind, args.pattern)
            sys.stdout.flush()
            return 0
        cfg = resolve_config(args)
        where = importlib.import_module(args._command.job).run(cfg)
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
