"""Adversarial attacks with honest, cheap evaluation semantics.

``create_attack(name, **params)`` builds one of the registered attacks (``list_attacks()``):
``clean``, ``fgsm``, ``ffgsm``, ``rfgsm``, ``bim``, ``pgd``, ``mifgsm``, ``apgd-ce``, ``apgd-dlr``,
``apgd-t``, ``fab-t``, ``cw``, ``deepfool``, ``square`` (score-based, black-box), the composite ``autoattack``
(APGD-CE, APGD-T, FAB-T, Square on the points still robust), and the pixel (L0)
attacks ``onepixel`` (differential evolution) and ``pgd-l0`` (sparse PGD). Calling an attack returns the
adversarial images; :meth:`Attack.run` returns an :class:`AttackResult` with the per-sample
success, the logits at the adversarial points and the number of queries spent.
"""

from robnas.attacks.base import Attack, AttackResult
from robnas.attacks.registry import ATTACKS, attack_parameters, create_attack, list_attacks, register_attack

# Importing the attack modules registers them.
from robnas.attacks import (apgd, clean, cw, deepfool, fab, fgsm, mifgsm, onepixel, pgd, sparse,  # noqa: E402,F401  isort: skip
                            square)
from robnas.attacks import autoattack  # noqa: E402,F401  (a composite of the above)  isort: skip

__all__ = ["ATTACKS", "Attack", "AttackResult", "attack_parameters", "create_attack", "list_attacks",
           "register_attack"]
