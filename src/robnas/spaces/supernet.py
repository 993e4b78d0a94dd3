"""The supernet interface of every space that has a differentiable (one-shot) search.

A supernet takes images in [0, 1] (its first layer is the dataset normalisation, as in every robnas
model) and returns logits. Its parameters split into architecture parameters (the alphas, plus
PC-DARTS edge betas) and ordinary weights; :meth:`Supernet.derive` turns the current alphas into the
space's interchange string (a DARTS genotype text or a NAS-Bench-201 arch string). A space makes its
supernet with ``get_space(name).supernet(...)``, which also sets ``space`` and ``spec``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Collection, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from robnas.errors import InvalidValueError
from robnas.nn import Normalize


class Supernet(nn.Module):
    """Base class: normalisation, the parameter split, logging helpers; subclasses build the cells.

    A subclass's constructor takes ``(num_classes, in_channels, mean, std, C, layers, partial_channels)``.
    """

    #: The candidate operations, in the order of the alpha columns.
    op_names: ClassVar[tuple[str, ...]] = ()
    #: Ops the space's derivation never selects whatever the alphas (DARTS: ``none``).
    never_derived: ClassVar[tuple[str, ...]] = ()

    def __init__(self, mean: Sequence[float] | None, std: Sequence[float] | None, in_channels: int) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std, in_channels)
        self.space = ""  # the registry name of the space, set by SearchSpace.supernet
        self.spec: dict[str, Any] = {}

    # --- the parameter split --------------------------------------------------------------------

    @abstractmethod
    def named_arch_parameters(self) -> dict[str, nn.Parameter]:
        """Architecture parameters by name (``alphas_normal``, ``betas_reduce``, ...)."""

    def arch_parameters(self) -> list[nn.Parameter]:
        return list(self.named_arch_parameters().values())

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    # --- forward ----------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_cells(x)[0]

    @abstractmethod
    def forward_with_cells(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and the output feature map of every searched cell (for RNAS' vulnerability)."""

    # --- derivation and logging -------------------------------------------------------------------

    @abstractmethod
    def derive(self, exclude: Collection[str] = ()) -> str:
        """The architecture the current alphas select, as the space's interchange string; the ops in
        ``exclude`` are never selected (checked by :meth:`derivable`)."""

    def derivable(self, exclude: Collection[str] = ()) -> list[int]:
        """Columns of the alphas a derivation may select: every op but ``exclude`` (and the ops the
        space's own derivation never selects, ``never_derived``). One error line if a name is not an
        op of this supernet or nothing is left."""
        unknown = sorted(set(exclude) - set(self.op_names))
        if unknown:
            raise InvalidValueError(f"search.differentiable.derive_exclude names {', '.join(unknown)}, not an op of "
                                    f"the {self.space or type(self).__name__} supernet; its ops: "
                                    f"{', '.join(self.op_names)}")
        live = [k for k, name in enumerate(self.op_names) if name not in exclude and name not in self.never_derived]
        if not live:
            raise InvalidValueError(f"search.differentiable.derive_exclude={list(exclude)} leaves no op to derive; "
                                    f"keep at least one of {', '.join(self.op_names)}")
        return live

    @abstractmethod
    def edge_names(self) -> list[str]:
        """Labels of the rows of each alpha matrix, e.g. ``"2<-0"`` (node <- input)."""

    def softmaxed_alphas(self) -> dict[str, list[list[float]]]:
        """softmax over the ops of every edge, per alpha matrix (what metrics.jsonl logs)."""
        return {name: torch.softmax(p.detach().double(), dim=-1).tolist()
                for name, p in self.named_arch_parameters().items() if name.startswith("alphas")}
