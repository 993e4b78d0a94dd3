"""The supernet interface shared by every searchable space, and ``create_supernet``.

A supernet takes images in [0, 1] (its first layer is the dataset normalisation, as in every robnas
model) and returns logits. Its parameters split into architecture parameters (the alphas, plus
PC-DARTS edge betas) and ordinary weights; :meth:`Supernet.derive` turns the current alphas into the
space's interchange string (a DARTS genotype text or a NAS-Bench-201 arch string).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from robnas.errors import InvalidValueError
from robnas.models.normalize import Normalize

#: The searchable spaces (``robnas search --space``).
SPACES = ("darts", "nb201")


class Supernet(nn.Module):
    """Base class: normalisation, the parameter split, logging helpers; subclasses build the cells."""

    space: ClassVar[str] = ""
    op_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, mean: Sequence[float] | None, std: Sequence[float] | None, in_channels: int) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std, in_channels)
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
    def derive(self) -> str:
        """The architecture the current alphas select, as the space's interchange string."""

    @abstractmethod
    def edge_names(self) -> list[str]:
        """Labels of the rows of each alpha matrix, e.g. ``"2<-0"`` (node <- input)."""

    def softmaxed_alphas(self) -> dict[str, list[list[float]]]:
        """softmax over the ops of every edge, per alpha matrix (what metrics.jsonl logs)."""
        return {name: torch.softmax(p.detach().double(), dim=-1).tolist()
                for name, p in self.named_arch_parameters().items() if name.startswith("alphas")}


def positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(f"supernet {name} must be a positive integer, got {value!r}")
    return value


def create_supernet(space: str, *, num_classes: int, in_channels: int, mean: Sequence[float] | None,
                    std: Sequence[float] | None, C: int, layers: int, partial_channels: int = 1,
                    **kw: Any) -> Supernet:
    """The supernet of ``space`` (``darts``: ``layers`` cells; ``nb201``: ``layers`` cells per stage)."""
    # Imported here so each space module can import this one for the base class.
    from robnas.search.differentiable.darts_supernet import DartsSupernet
    from robnas.search.differentiable.nb201_supernet import NB201Supernet

    builders = {"darts": DartsSupernet, "nb201": NB201Supernet}
    key = str(space).lower()
    if key not in builders:
        from robnas.errors import UnknownNameError

        raise UnknownNameError(f"unknown search space {space!r} for differentiable search; choose one of: "
                               f"{', '.join(SPACES)}")
    if kw:
        raise InvalidValueError(f"create_supernet({key!r}) does not accept {', '.join(sorted(kw))}")
    net = builders[key](num_classes=positive("num_classes", num_classes), in_channels=positive("in_channels",
                        in_channels), mean=mean, std=std, C=positive("C", C), layers=positive("layers", layers),
                        partial_channels=partial_channels)
    net.spec = {"space": key, "num_classes": num_classes, "in_channels": in_channels,
                "mean": None if mean is None else [float(v) for v in mean],
                "std": None if std is None else [float(v) for v in std],
                "C": C, "layers": layers, "partial_channels": partial_channels}
    return net
