"""The model registry: ``@register_model`` factories, ``create_model`` and rebuild-from-spec.

A factory is a plain function ``f(num_classes, in_channels, **kwargs) -> nn.Module`` (see
:mod:`robnas.nn.classifier`, which checks a call against its signature, wraps the network with its
input normalisation and attaches ``model.spec``). Each registration also records ``tiny`` kwargs
that make a very small variant, so the parametrised tests cover every registered model quickly.

The networks of the search spaces are models too: :mod:`robnas.models.searched` registers the
built-in spaces' networks, and a name that no model has but a registered search space has (a
space added by a plugin after this package was imported) is built by that space's network, so the
``spec`` of any space-built network rebuilds it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from robnas.errors import InvalidValueError
from robnas.nn import (SPEC_KEYS, NetworkFactory, NormalizedClassifier, build_classifier, check_factory,
                       factory_kwargs, required_kwargs, takes_any_kwarg)
from robnas.registry import Registry
from robnas.spaces import SPACES

ModelFactory = NetworkFactory


@dataclass(frozen=True)
class ModelEntry:
    """A registered factory and the kwargs of its tiny variant."""

    factory: ModelFactory
    tiny: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kwargs(self) -> dict[str, Any]:
        """Accepted kwargs -> default (``inspect.Parameter.empty`` when required)."""
        return factory_kwargs(self.factory)

    @property
    def required(self) -> list[str]:
        return required_kwargs(self.factory)


MODELS: Registry[ModelEntry] = Registry("model")


def register_model(name: str | None = None, tiny: Mapping[str, Any] | None = None
                   ) -> Callable[[ModelFactory], ModelFactory]:
    """Decorator registering a factory under ``name`` (default: the function's name).

    ``tiny`` are kwargs giving a very small variant (few channels/layers) for fast tests.
    """

    def decorate(factory: ModelFactory) -> ModelFactory:
        check_factory(factory)
        entry = ModelEntry(factory, dict(tiny or {}))
        unknown = set() if takes_any_kwarg(factory) else set(entry.tiny) - set(entry.kwargs)
        if unknown:
            raise TypeError(f"tiny kwargs {sorted(unknown)} are not parameters of {factory.__name__}")
        MODELS.register(name or factory.__name__)(entry)
        return factory

    return decorate


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style pattern, e.g. ``list_models("*resnet*")``."""
    return MODELS.names(pattern)


def _factory(name: str) -> ModelFactory:
    """The registered model's factory, else the network of a registered search space of that name."""
    if name not in MODELS and name in SPACES:
        return SPACES.get(name).network
    return MODELS.get(name).factory  # an unknown name raises here, listing the models


def create_model(name: str, num_classes: int = 10, in_channels: int = 3,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 **kw: Any) -> NormalizedClassifier:
    """Build a registered model (images in [0, 1] in, logits out) with ``model.spec`` attached."""
    return build_classifier(name, _factory(name), num_classes=num_classes, in_channels=in_channels, mean=mean,
                            std=std, **kw)


def model_from_spec(spec: Mapping[str, Any]) -> NormalizedClassifier:
    """Rebuild (freshly initialised) the model a ``model.spec`` describes."""
    if not isinstance(spec, Mapping) or any(k not in spec for k in SPEC_KEYS):
        raise InvalidValueError(
            f"model spec must be a dict with keys {', '.join(SPEC_KEYS)}, got {spec!r:.200}; "
            "use the `spec` of a model made by create_model"
        )
    kwargs = spec["kwargs"]
    if not isinstance(kwargs, Mapping):
        raise InvalidValueError(f"model spec 'kwargs' must be a dict, got {kwargs!r:.200}")
    return create_model(spec["name"], num_classes=spec["num_classes"], in_channels=spec["in_channels"],
                        mean=spec["mean"], std=spec["std"], **kwargs)
