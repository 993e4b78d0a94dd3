"""Generic conversion between nested dicts (TOML) and frozen config dataclasses.

Unknown keys are errors (a typo must not silently fall back to a default), and values are checked
against the field's type so that ``--set train.epochs=abc`` fails with one clear line.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

from robnas.eps import Eps, read_fraction
from robnas.errors import InvalidValueError, ParseError

C = TypeVar("C")


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = get_origin(hint)
    if hint is Eps:  # a radius: "8/255", "0.031", a number; parsed once, exact from here on
        try:
            return Eps.parse(value)
        except InvalidValueError as exc:
            raise InvalidValueError(f"config key {where!r}: {exc}") from None
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise InvalidValueError(f"config section {where!r} must be a table, got {value!r}")
        return config_from_dict(hint, value, prefix=f"{where}.")
    if origin in (typing.Union, types.UnionType):
        args = get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except InvalidValueError as exc:
                errors.append(str(exc))
        raise InvalidValueError(errors[0] if errors else f"bad value for {where}: {value!r}")
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise InvalidValueError(f"config key {where!r} must be a list, got {value!r}")
        args = get_args(hint)
        item = args[0] if args else Any
        return tuple(_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise InvalidValueError(f"config key {where!r} must be a table, got {value!r}")
        return dict(value)
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:  # "1/4" is a natural way to write a ratio
                return float(read_fraction(value)) if "/" in value else float(value)
            except (ValueError, ZeroDivisionError):
                pass
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    elif isinstance(value, hint):
        return value
    name = getattr(hint, "__name__", str(hint))
    raise InvalidValueError(f"config key {where!r} must be {name}, got {value!r}")


def config_from_dict(cls: type[C], data: dict[str, Any], prefix: str = "") -> C:
    """Build ``cls`` from a nested dict, refusing unknown keys and mistyped values."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise InvalidValueError(
            f"unknown config key '{prefix}{unknown[0]}'; valid keys here: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {name: _coerce(value, hints[name], f"{prefix}{name}") for name, value in data.items()}
    return cls(**kwargs)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A frozen config as plain nested dicts/lists (tuples become lists, radii their label), for TOML/JSON."""

    def plain(v: Any) -> Any:
        if isinstance(v, Eps):
            return v.label
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(cfg)


def parse_override_value(text: str) -> Any:
    """``--set`` values are read as TOML values (numbers, booleans, lists, strings); bare words stay strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b=value`` overrides to a nested dict (copied), creating sections as needed."""
    out: dict[str, Any] = _deep_copy(data)
    for item in overrides:
        if "=" not in item:
            raise InvalidValueError(f"--set {item!r} is not of the form section.key=value, e.g. train.epochs=5")
        path, raw = item.split("=", 1)
        keys = [k for k in path.strip().split(".") if k]
        if not keys:
            raise InvalidValueError(f"--set {item!r} names no key; write e.g. train.epochs=5")
        node = out
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise InvalidValueError(f"--set {item!r}: {key!r} is a value, not a section")
        node[keys[-1]] = parse_override_value(raw.strip())
    return out


def _deep_copy(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in data.items()}


def read_toml(path: str | Path) -> dict[str, Any]:
    """A config file (or a shipped config's name) as a nested dict; a missing file or bad syntax is one-line error."""
    from robnas.config.shipped import config_path

    p = config_path(str(path))
    if not p.is_file():
        raise InvalidValueError(f"config file {p} does not exist; pass an existing TOML file or a shipped config "
                                "name (robnas list configs) to --config")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ParseError(f"config file {p} is not valid TOML ({exc}); fix the syntax") from exc


def load_config(cls: type[C], path: str | Path | None = None, overrides: list[str] | None = None) -> C:
    """Read a TOML file (optional), apply ``--set`` overrides, build the frozen config."""
    data = read_toml(path) if path is not None else {}
    return config_from_dict(cls, apply_overrides(data, overrides or []))


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {v!r} to TOML")


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """A small TOML writer for resolved configs (None values are omitted: TOML has no null)."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    arrays: list[tuple[str, list[dict[str, Any]]]] = []
    for k, v in data.items():
        if v is None:
            continue
        if isinstance(v, dict) and v:
            tables.append((k, v))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            arrays.append((k, v))
        else:
            lines.append(f"{k} = {_toml_value(v)}")
    for k, v in tables:
        lines.append(f"\n[{prefix}{k}]")
        lines.append(to_toml(v, f"{prefix}{k}.").rstrip())
    for k, items in arrays:
        for item in items:
            lines.append(f"\n[[{prefix}{k}]]")
            lines.append(to_toml(item, f"{prefix}{k}.").rstrip())
    return "\n".join(line for line in lines if line).lstrip("\n") + "\n"
