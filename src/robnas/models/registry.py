"""The model registry: ``@register_model`` factories, ``create_model`` and rebuild-from-spec.

A factory is a plain function ``f(num_classes, in_channels, **kwargs) -> nn.Module``; its keyword
parameters are the kwargs the model accepts, found by introspection so the error for a misspelt
kwarg can list the valid ones. Each registration also records ``tiny`` kwargs that make a very
small variant, so the parametrised tests cover every registered model quickly.

``create_model`` wraps the network with its input normalisation and attaches ``model.spec``, a
JSON-serialisable description from which :func:`model_from_spec` rebuilds the same architecture
(freshly initialised); checkpoints store it next to the weights.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from robnas.errors import InvalidValueError
from robnas.models.checks import positive_int
from robnas.models.normalize import Normalize, NormalizedClassifier
from robnas.registry import Registry

ModelFactory = Callable[..., nn.Module]

#: Arguments every factory takes; everything after them is a model-specific kwarg.
_COMMON_ARGS = ("num_classes", "in_channels")
_SPEC_KEYS = ("name", "num_classes", "in_channels", "mean", "std", "kwargs")


@dataclass(frozen=True)
class ModelEntry:
    """A registered factory and the kwargs of its tiny variant."""

    factory: ModelFactory
    tiny: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kwargs(self) -> dict[str, Any]:
        """Accepted kwargs -> default (``inspect.Parameter.empty`` when required)."""
        params = inspect.signature(self.factory).parameters
        return {name: p.default for name, p in params.items() if name not in _COMMON_ARGS}

    @property
    def required(self) -> list[str]:
        return [name for name, default in self.kwargs.items() if default is inspect.Parameter.empty]


MODELS: Registry[ModelEntry] = Registry("model")


def register_model(name: str | None = None, tiny: Mapping[str, Any] | None = None
                   ) -> Callable[[ModelFactory], ModelFactory]:
    """Decorator registering a factory under ``name`` (default: the function's name).

    ``tiny`` are kwargs giving a very small variant (few channels/layers) for fast tests.
    """

    def decorate(factory: ModelFactory) -> ModelFactory:
        params = list(inspect.signature(factory).parameters)
        if tuple(params[:2]) != _COMMON_ARGS:
            raise TypeError(f"model factory {factory.__name__} must start with (num_classes, in_channels)")
        entry = ModelEntry(factory, dict(tiny or {}))
        unknown = set(entry.tiny) - set(entry.kwargs)
        if unknown:
            raise TypeError(f"tiny kwargs {sorted(unknown)} are not parameters of {factory.__name__}")
        MODELS.register(name or factory.__name__)(entry)
        return factory

    return decorate


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style pattern, e.g. ``list_models("*resnet*")``."""
    return MODELS.names(pattern)


def _describe_kwargs(entry: ModelEntry) -> str:
    parts = [k if d is inspect.Parameter.empty else f"{k}={d!r}" for k, d in entry.kwargs.items()]
    return ", ".join(parts) if parts else "none"


def _jsonable(value: Any) -> Any:
    """Kwarg values as JSON values: architectures become their canonical text, tuples lists."""
    if hasattr(value, "to_str"):
        return value.to_str()
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


def create_model(name: str, num_classes: int = 10, in_channels: int = 3,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 **kw: Any) -> NormalizedClassifier:
    """Build a registered model (images in [0, 1] in, logits out) with ``model.spec`` attached."""
    entry = MODELS.get(name)
    key = name.lower()
    positive_int(key, "num_classes", num_classes)
    positive_int(key, "in_channels", in_channels)
    accepted = entry.kwargs
    unknown = sorted(set(kw) - set(accepted))
    if unknown:
        raise InvalidValueError(
            f"model {key!r} does not accept {', '.join(unknown)}; its kwargs are: {_describe_kwargs(entry)}"
        )
    missing = [k for k in entry.required if k not in kw]
    if missing:
        raise InvalidValueError(
            f"model {key!r} needs {', '.join(missing)}; its kwargs are: {_describe_kwargs(entry)}"
        )
    normalize = Normalize(mean, std, in_channels)
    net = entry.factory(num_classes=num_classes, in_channels=in_channels, **kw)
    resolved = {k: _jsonable(kw.get(k, default)) for k, default in accepted.items()}
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


def model_from_spec(spec: Mapping[str, Any]) -> NormalizedClassifier:
    """Rebuild (freshly initialised) the model a ``model.spec`` describes."""
    if not isinstance(spec, Mapping) or any(k not in spec for k in _SPEC_KEYS):
        raise InvalidValueError(
            f"model spec must be a dict with keys {', '.join(_SPEC_KEYS)}, got {spec!r:.200}; "
            "use the `spec` of a model made by create_model"
        )
    kwargs = spec["kwargs"]
    if not isinstance(kwargs, Mapping):
        raise InvalidValueError(f"model spec 'kwargs' must be a dict, got {kwargs!r:.200}")
    return create_model(spec["name"], num_classes=spec["num_classes"], in_channels=spec["in_channels"],
                        mean=spec["mean"], std=spec["std"], **kwargs)
