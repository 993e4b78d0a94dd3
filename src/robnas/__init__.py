"""robnas: adversarially robust neural architecture search.

Find, train and honestly evaluate network architectures that resist adversarial attacks. The front
door -- everything else is one import further in::

    import robnas
    model = robnas.create_model("resnet18", num_classes=10, in_channels=1)        # robnas list models
    attack = robnas.create_attack("pgd", eps=8 / 255, alpha=2 / 255, steps=10)     # robnas list attacks
    record = robnas.evaluate(model, split, robnas.get_protocol("devaguptapu"), num_classes=10)
    space = robnas.get_space("nb201")                                              # robnas list spaces
    strategy = robnas.create_strategy("re", space, ["clean_error"], seed=0)        # robnas list strategies
    bench = robnas.bench.open("digits-nb201")                                      # a benchmark file or name
    result = robnas.search.run("nb201", "re", ["robust_error:fgsm@20/255"], bench, budget=100)
    values = robnas.proxies.compute("jacobian", model, x, y)                       # robnas list proxies
    proven = robnas.certify(model, x, y, eps=1 / 255)                               # proven robust points
"""

from robnas import bench, proxies, search
from robnas._version import __version__
from robnas.attacks import create_attack
from robnas.certify import certify
from robnas.data import load_dataset
from robnas.evaluation import evaluate, get_protocol
from robnas.models import create_model
from robnas.search.discrete import create_strategy
from robnas.spaces import get_space

__all__ = ["__version__", "bench", "certify", "create_attack", "create_model", "create_strategy", "evaluate",
           "get_protocol", "get_space", "load_dataset", "proxies", "search"]
