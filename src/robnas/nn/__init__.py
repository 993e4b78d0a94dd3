"""Low-level network pieces shared by the model zoo and the search spaces (layer L1: torch only).

* :class:`Normalize` / :class:`NormalizedClassifier`: the dataset normalisation as a model's first
  layer (images in [0, 1] in, logits out);
* :func:`build_classifier`: calls a network factory ``f(num_classes, in_channels, **kwargs)`` after
  checking its kwargs against its signature, wraps the network with its normalisation and attaches
  the JSON ``spec`` from which ``robnas.models.model_from_spec`` rebuilds it. The model registry
  (``create_model``) and a search space's ``build`` both go through it, so a network built either
  way has the same spec.
"""

from robnas.nn.classifier import (COMMON_ARGS, SPEC_KEYS, NetworkFactory, build_classifier, check_factory,
                                  describe_kwargs, factory_kwargs, required_kwargs, takes_any_kwarg)
from robnas.nn.normalize import Normalize, NormalizedClassifier

__all__ = ["COMMON_ARGS", "SPEC_KEYS", "NetworkFactory", "Normalize", "NormalizedClassifier", "build_classifier",
           "check_factory", "describe_kwargs", "factory_kwargs", "required_kwargs", "takes_any_kwarg"]
