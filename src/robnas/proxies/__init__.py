"""Training-free proxies: rank architectures without training them (Jung et al. Sec. 3.1 and the
zero-cost proxies they are compared with).

``compute(name, model, x, y, **params) -> float`` measures a registered proxy (``list_proxies()``)
of a model on images ``x`` in [0, 1] with labels ``y``; ``get_proxy(name).higher_is`` says what a
larger value predicts ("less robust", "more accurate" or "larger network") and
``proxy_parameters(name)`` lists its parameters with their defaults. Robustness proxies:
``jacobian`` (Frobenius norm of the input Jacobian), ``hessian`` (largest eigenvalue of the input
Hessian of the loss), ``hessian-weights`` (of the weight Hessian), ``curvature`` (AdvRush's Eq. 10);
clean zero-cost proxies: ``synflow``, ``jacob_cov``, ``grad_norm``; cost: ``params``, ``flops``.
See :mod:`robnas.proxies.base` for the contract every proxy keeps.
"""

from robnas.proxies.base import (PROXIES, Proxy, compute, get_proxy, list_proxies, proxy_parameters,
                                 register_proxy)

# Importing the proxy modules registers them.
from robnas.proxies import cost, curvature, hessian, jacobian, zero_cost  # noqa: E402,F401  isort: skip

__all__ = ["PROXIES", "Proxy", "compute", "get_proxy", "list_proxies", "proxy_parameters", "register_proxy"]
