"""The 15 common corruptions of CIFAR-10-C (Hendrycks & Dietterich, ICLR 2019) in batched torch.

``corrupt(name, images, severity, generator)`` corrupts a float batch ``[N, C, H, W]`` in [0, 1]
(C = 1 or 3) at severity 1..5 with the CIFAR-10-C constants of ``make_cifar_c.py``
(hendrycks/robustness); ``quantize=True`` returns the 8-bit values CIFAR-10-C stores (see
``levels.py``); ``list_corruptions()`` names them in the benchmark's order (a protocol's corruptions are evaluated
by :mod:`robnas.evaluation`). Every random draw comes from the caller's generator.

Modules: ``noise``, ``blur``, ``weather``, ``digital`` (the corruptions); ``filters``,
``resample``, ``motion``, ``plasma``, ``jpeg``, ``intdct``, ``frost_texture`` (the library
operations the original borrowed from OpenCV, scikit-image, scipy, PIL and ImageMagick,
reimplemented batched); ``levels`` (its 8-bit steps).
Each corruption module's docstring lists where it departs from the original.
"""

from robnas.corruptions.registry import (CIFAR10C_ORDER, CORRUPTIONS, SEVERITIES, corrupt, list_corruptions,
                                         register_corruption)

# Importing the corruption modules registers them.
from robnas.corruptions import blur, digital, noise, weather  # noqa: E402,F401  isort: skip

__all__ = ["CIFAR10C_ORDER", "CORRUPTIONS", "SEVERITIES", "corrupt", "list_corruptions", "register_corruption"]
