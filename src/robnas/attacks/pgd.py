"""Iterative attacks: PGD (Madry et al. 2018) and BIM (Kurakin et al. 2017).

Defaults follow Devaguptapu et al.: eps 8/255, step 2/255, 10 iterations.
"""

from __future__ import annotations

from fractions import Fraction

from robnas.attacks.registry import register_attack
from robnas.attacks.stepping import FixedStepAttack


@register_attack("pgd")
class PGD(FixedStepAttack):
    """Projected gradient descent: a random start in the eps-ball, then ``steps`` projected steps of ``alpha``.

    Linf start: uniform noise in [-eps, eps] per pixel. L2 start: a Gaussian direction with a
    radius uniform in [0, eps] (as torchattacks' PGDL2). ``random_start=False`` starts at the
    clean image, which is what torchattacks' ``PGD(random_start=False)`` does.

    Under a protocol's radius the step is eps/4 (Devaguptapu et al.: 2/255 at 8/255); created
    directly, the default step is 2/255 whatever eps is.
    """
    title = "PGD"
    radius_rules = {"alpha": Fraction(1, 4)}
    refines = ("fgsm",)


@register_attack("bim")
class BIM(FixedStepAttack):
    """Basic iterative method: PGD that starts at the clean image (Linf only, like the paper's FGSM family).
    Under a protocol's radius the step is eps/4, as PGD's."""
    title = "BIM"
    norms = ("Linf",)
    radius_rules = {"alpha": Fraction(1, 4)}
    refines = ("fgsm",)

    def __init__(self, *, eps: float = 8 / 255, norm: str = "Linf", alpha: float = 2 / 255, steps: int = 10,
                 restarts: int = 1, seed: int = 0, early_stop: bool = True, batch_size: int | None = None) -> None:
        super().__init__(eps=eps, norm=norm, alpha=alpha, steps=steps, restarts=restarts, random_start=False,
                         seed=seed, early_stop=early_stop, batch_size=batch_size)
