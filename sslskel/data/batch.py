"""The one batch object every training loop and method receives.

`SkeletonDataset` yields one dict per sample; `collate` stacks them into a `Batch`:

    views           list of num_views tensors (N, C, T, V, M), independently augmented
    lengths         (N, num_views) valid frames of each view
    labels          (N,) class ids
    index           (N,) positions in the dataset (a memory bank's slot, a sample's seed)
    meta            {field: (N,)} setup, camera, subject, replication, action and performance
                    (sslskel.data.pairs); -1 where the data does not say
    partner_views   when the dataset was asked for them: the views of the same performance
    partner_lengths seen by another camera (sslskel.data.pairs.cross_view_partners), and
    has_partner     (N,) bool, False where there is none (the partner is then the sample itself)

Example:
    >>> import torch
    >>> item = {"views": [torch.zeros(3, 4, 25, 2)], "lengths": torch.tensor([4]), "label": 1,
    ...         "index": 0, "meta": {"camera": 2}}
    >>> batch = collate([item, item])
    >>> batch.views[0].shape, batch.labels.tolist(), batch.meta["camera"].tolist(), batch.size
    (torch.Size([2, 3, 4, 25, 2]), [1, 1], [2, 2], 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import torch
from torch.utils.data import default_collate


@dataclass
class Batch:
    views: list[torch.Tensor]
    lengths: torch.Tensor
    labels: torch.Tensor
    index: torch.Tensor
    meta: dict[str, torch.Tensor] = field(default_factory=dict)
    partner_views: list[torch.Tensor] | None = None
    partner_lengths: torch.Tensor | None = None
    has_partner: torch.Tensor | None = None

    @property
    def size(self) -> int:
        return int(self.labels.shape[0])

    def apply(self, fn) -> Batch:
        """A copy with `fn` applied to every tensor."""
        def visit(value):
            if isinstance(value, torch.Tensor):
                return fn(value)
            if isinstance(value, list):
                return [visit(v) for v in value]
            if isinstance(value, dict):
                return {k: visit(v) for k, v in value.items()}
            return value

        return replace(self, **{f.name: visit(getattr(self, f.name)) for f in fields(self)})

    def to(self, device: torch.device, non_blocking: bool = True) -> Batch:
        return self.apply(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> Batch:
        """Called by DataLoader(pin_memory=True) on CUDA runs."""
        return self.apply(torch.Tensor.pin_memory)


def collate(items: list[dict]) -> Batch:
    stacked = default_collate(items)
    return Batch(views=stacked["views"], lengths=stacked["lengths"], labels=stacked["label"],
                 index=stacked["index"], meta=stacked.get("meta", {}),
                 partner_views=stacked.get("partner_views"),
                 partner_lengths=stacked.get("partner_lengths"),
                 has_partner=stacked.get("has_partner"))
