"""A network factory's call checked against its signature, wrapped with its normalisation, with a ``spec``.

A factory is a plain function ``f(num_classes, in_channels, **kwargs) -> nn.Module``; its named
keyword parameters are the kwargs it accepts, found by introspection so that the error for a
misspelt kwarg can list the valid ones. A factory written as timm writes them --
``f(num_classes=10, in_channels=3, **kwargs)``, maybe with ``*args`` -- takes any kwarg: its
``**kwargs`` passes them on, and whatever it is given is recorded in the spec.
:func:`build_classifier` resolves every kwarg (given or default) into the network's ``spec``: a
JSON-serialisable description (``name``, ``num_classes``, ``in_channels``, ``mean``, ``std``,
``kwargs``) from which the model registry rebuilds the same architecture; checkpoints store it next
to the weights.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from robnas.errors import InvalidValueError
from robnas.checks import positive_int
from robnas.nn.normalize import Normalize, NormalizedClassifier

NetworkFactory = Callable[..., nn.Module]

#: Arguments every factory takes first; everything after them is a network-specific kwarg.
COMMON_ARGS = ("num_classes", "in_channels")
#: The keys of every ``spec``.
SPEC_KEYS = ("name", "num_classes", "in_channels", "mean", "std", "kwargs")


# Parameters a caller can pass by name (``*args``, ``**kwargs`` and positional-only ones cannot be).
_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def check_factory(factory: NetworkFactory) -> None:
    """TypeError (a programming error, raised at registration) unless ``factory`` starts with COMMON_ARGS."""
    params = list(inspect.signature(factory).parameters)
    if tuple(params[:len(COMMON_ARGS)]) != COMMON_ARGS:
        raise TypeError(f"network factory {getattr(factory, '__name__', factory)!r} must start with "
                        f"({', '.join(COMMON_ARGS)})")


def factory_kwargs(factory: NetworkFactory) -> dict[str, Any]:
    """Named kwargs -> default (``inspect.Parameter.empty`` when required); ``*args`` and ``**kwargs`` are not
    kwargs of their own (see :func:`takes_any_kwarg`)."""
    params = inspect.signature(factory).parameters
    return {name: p.default for name, p in params.items() if name not in COMMON_ARGS and p.kind in _NAMED}


def takes_any_kwarg(factory: NetworkFactory) -> bool:
    """Whether the factory has ``**kwargs`` (timm's style), so that any kwarg may be passed on."""
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(factory).parameters.values())


def required_kwargs(factory: NetworkFactory) -> list[str]:
    return [name for name, default in factory_kwargs(factory).items() if default is inspect.Parameter.empty]


def describe_kwargs(factory: NetworkFactory) -> str:
    """``genotype, C=36, layers=20, ...``: the kwargs of a factory for error messages."""
    parts = [k if d is inspect.Parameter.empty else f"{k}={d!r}" for k, d in factory_kwargs(factory).items()]
    parts += ["**kwargs"] if takes_any_kwarg(factory) else []
    return ", ".join(parts) if parts else "none"


def _jsonable(value: Any) -> Any:
    """Kwarg values as JSON values: architectures become their canonical text, tuples lists."""
    if hasattr(value, "to_str"):
        return value.to_str()
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


def build_classifier(name: str, factory: NetworkFactory, num_classes: int = 10, in_channels: int = 3,
                     mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                     **kw: Any) -> NormalizedClassifier:
    """``factory``'s network (images in [0, 1] in, logits out) with ``model.spec`` naming it ``name``."""
    key = name.lower()
    positive_int(f"model {key!r}", "num_classes", num_classes)
    positive_int(f"model {key!r}", "in_channels", in_channels)
    accepted = factory_kwargs(factory)
    unknown = [] if takes_any_kwarg(factory) else sorted(set(kw) - set(accepted))
    if unknown:
        raise InvalidValueError(
            f"model {key!r} does not accept {', '.join(unknown)}; its kwargs are: {describe_kwargs(factory)}"
        )
    missing = [k for k in required_kwargs(factory) if k not in kw]
    if missing:
        raise InvalidValueError(
            f"model {key!r} needs {', '.join(missing)}; its kwargs are: {describe_kwargs(factory)}"
        )
    normalize = Normalize(mean, std, in_channels)
    try:
        net = factory(num_classes=num_classes, in_channels=in_channels, **kw)
    except TypeError as exc:
        if not takes_any_kwarg(factory):
            raise  # its kwargs were checked above: a TypeError is the factory's own bug
        # **kwargs took every kwarg; the network it passes them to is the one that knows them.
        raise InvalidValueError(f"model {key!r} refused its kwargs ({exc}); its kwargs are: "
                                f"{describe_kwargs(factory)}") from None
    # Every named kwarg (given or default) and whatever else **kwargs took: the spec rebuilds the same network.
    resolved = {k: _jsonable(kw.get(k, default)) for k, default in {**accepted, **kw}.items()}
    spec = {
        "name": key,
        "num_classes": num_classes,
        "in_channels": in_channels,
        "mean": None if normalize.mean is None else normalize.mean.flatten().tolist(),
        "std": None if normalize.std is None else normalize.std.flatten().tolist(),
        "kwargs": resolved,
    }
    try:
        json.dumps(spec, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidValueError(
            f"kwargs of model {key!r} must be plain numbers, strings or booleans (got {resolved!r})"
        ) from None
    model = NormalizedClassifier(normalize, net)
    model.spec = spec
    return model
