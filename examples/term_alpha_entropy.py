"""A new search term in one file: an entropy penalty that pushes each edge's softmax(alpha) to one op.

One-shot searches end with a discretisation step; a supernet whose alphas are nearly uniform at the
end makes that step arbitrary. Adding ``weight * mean entropy of softmax(alpha)`` to the architecture
objective (after a warm-up) makes the alphas decide. Use it with any method:
``robnas search --method advrush --set search.differentiable.terms=["alpha-entropy"]
--set search.differentiable.term_params={alpha-entropy={weight=0.05}}``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from robnas.errors import InvalidValueError
from robnas.search.differentiable import SearchTerm, StepInfo, register_term


@dataclass(frozen=True)
class AlphaEntropyParams:
    weight: float = 0.01
    warmup_epochs: int = 0

    def __post_init__(self) -> None:
        if not self.weight >= 0:
            raise InvalidValueError(f"alpha-entropy weight must be >= 0, got {self.weight}")


@register_term("alpha-entropy")
class AlphaEntropy(SearchTerm):
    Params = AlphaEntropyParams
    params: AlphaEntropyParams

    def active(self, info: StepInfo) -> bool:
        return info.epoch >= self.params.warmup_epochs

    def arch_loss(self, model, x, y, info) -> torch.Tensor:
        entropies = []
        for name, alpha in model.named_arch_parameters().items():
            if name.startswith("alphas"):
                p = torch.softmax(alpha, dim=-1)
                entropies.append(-(p * p.clamp_min(1e-12).log()).sum(-1).mean())
        return self.params.weight * torch.stack(entropies).mean()
