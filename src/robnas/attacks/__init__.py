"""Adversarial attacks with honest, cheap evaluation semantics.

``create_attack(name, **params)`` builds one of the registered attacks (``list_attacks()``):
``clean``, ``fgsm``, ``ffgsm``, ``rfgsm``, ``bim``, ``pgd``, ``mifgsm``, ``apgd-ce``, ``apgd-dlr``,
``apgd-t``, ``fab-t``, ``cw``, ``deepfool``, ``square`` (score-based, black-box), the composite ``autoattack``
(APGD-CE, APGD-T, FAB-T, Square on the points still robust), and the pixel (L0)
attacks ``onepixel`` (differential evolution) and ``pgd-l0`` (sparse PGD). Calling an attack returns the
adversarial images; :meth:`Attack.run` returns an :class:`AttackResult` with the per-sample
success, the logits at the adversarial points and the number of queries spent.

Every module of this package is imported here, so an attack is added by adding one module that
registers it with ``@register_attack("name")``: protocols, reports, reliability checks and the
property tests find it through the registry.
"""

import importlib
import pkgutil

from robnas.attacks.base import Attack, AttackResult
from robnas.attacks.registry import (ATTACKS, attack_parameters, create_attack, list_attacks, register_attack,
                                     split_steps)

# Importing the modules registers their attacks (composites such as autoattack look members up when run).
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["ATTACKS", "Attack", "AttackResult", "attack_parameters", "create_attack", "list_attacks",
           "register_attack", "split_steps"]
