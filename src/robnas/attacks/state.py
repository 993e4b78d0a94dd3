"""Per-sample attack state that shrinks as samples break and leave the batch."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch


@dataclass
class SampleState:
    """Tensors whose first dimension runs over the samples still under attack.

    ``idx`` maps each row back to its position in the chunk. Subclasses add their own per-sample
    tensors; :meth:`keep` filters all of them at once, so no field can be forgotten.
    """

    idx: torch.Tensor

    def keep(self, mask: torch.Tensor) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                setattr(self, f.name, value[mask])

    def __len__(self) -> int:
        return int(self.idx.shape[0])
