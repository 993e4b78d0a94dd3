"""Adversarial attacks with honest, cheap evaluation semantics.

``create_attack(name, **params)`` builds one of the registered attacks (``list_attacks()``):
``clean``, ``fgsm``, ``ffgsm``, ``rfgsm``, ``bim``, ``pgd``, ``apgd-ce``, ``apgd-dlr``, ``apgd-t``, ``square`` (score-based, black-box). Calling an attack returns the
adversarial images; :meth:`Attack.run` returns an :class:`AttackResult` with the per-sample
success, the logits at the adversarial points and the number of queries spent.
"""

from robnas.attacks.base import Attack, AttackResult
from robnas.attacks.registry import ATTACKS, attack_parameters, create_attack, list_attacks, register_attack

# Importing the attack modules registers them.
from robnas.attacks import apgd, clean, fgsm, pgd, square  # noqa: E402,F401  isort: skip

__all__ = ["ATTACKS", "Attack", "AttackResult", "attack_parameters", "create_attack", "list_attacks",
           "register_attack"]
