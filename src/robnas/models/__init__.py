"""Model registry and networks: hand-crafted CIFAR networks and searched (DARTS / NB201) cells.

``create_model(name, num_classes, in_channels, mean, std, **kw)`` returns a
:class:`NormalizedClassifier` (images in [0, 1] in, logits out) with a JSON ``spec`` from which
``model_from_spec`` rebuilds it. Importing this package registers every model.
"""

from robnas.models import densenet, ensemble, lenet, mobilenet_v2, preact_resnet, resnet, searched, vgg  # noqa: F401  (registers)
from robnas.models.counting import count_parameters
from robnas.models.drop_path import set_drop_path_prob
from robnas.models.registry import MODELS, ModelEntry, create_model, list_models, model_from_spec, register_model
from robnas.nn import Normalize, NormalizedClassifier

__all__ = [
    "MODELS",
    "ModelEntry",
    "Normalize",
    "NormalizedClassifier",
    "count_parameters",
    "create_model",
    "list_models",
    "model_from_spec",
    "register_model",
    "set_drop_path_prob",
]
