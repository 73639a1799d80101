"""SkeletonGCL's training-only branch: projection head + banks + losses, as auxiliary losses.

`PaperGraphContrast` is the paper's method (terms loss_instance and loss_semantic);
`AuthorsCodeGraphContrast` is the authors' released code (loss_instance only). Both share
`GraphContrastBase`: the head (graphs or features), the seeded random-negative generator,
the label checks and the order of a step: the losses are computed against the banks' current
content, and only then, in train mode, is the batch written (eval mode leaves the banks as
they are: evaluation must not change training state). Nothing of this runs at inference.

Example:
    >>> import torch
    >>> gcl = PaperGraphContrast(num_classes=4, num_joints=5, per_class=8, dim=16,
    ...                          num_hard_positives=4, num_hard_negatives=6, num_random_negatives=6)
    >>> graphs = torch.randn(6 * 2, 3, 8, 5, 5, requires_grad=True)  # (N*M, K, C, V, V)
    >>> labels = torch.tensor([0, 1, 2, 3, 0, 1])
    >>> terms = gcl(graphs, labels, None, num_persons=2)   # banks empty: exactly 0
    >>> sorted(terms), sum(terms.values()).item()
    (['loss_instance', 'loss_semantic'], 0.0)
    >>> loss = sum(gcl(graphs, labels, None, num_persons=2).values())  # against the first batch
    >>> loss.backward(); bool(loss > 0), graphs.grad.shape
    (True, torch.Size([12, 3, 8, 5, 5]))
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ...data.errors import DataFormatError
from ...distributed import gather_rows
from ..auxiliary import AuxiliaryLoss
from .banks import InstanceMemoryBank, SampleMemoryBank, SemanticMemoryBank, cap_per_class, check_labels
from .heads import FeatureProjectionHead, GraphProjectionHead
from .losses import ContrastSets, instance_contrast_loss, sample_contrast_sets, semantic_contrast_loss

CONTRASTS = ("graph", "feature")


class GraphContrastBase(AuxiliaryLoss):
    """What both variants share; a subclass builds `instance_bank` (and any other bank) and
    defines `contrast_terms` (the losses) and `write_batch` (the bank update)."""

    name = "gcl"
    instance_bank: nn.Module  # set by the subclass; the generator lives on its device

    def __init__(self, num_classes: int, num_joints: int = 25, dim: int = 256,
                 temperature: float = 1.0, num_hard_positives: int = 128,
                 num_hard_negatives: int = 512, num_random_negatives: int = 512,
                 contrast: str = "graph", feature_dim: int | None = None, num_subsets: int = 3,
                 seed: int = 0):
        super().__init__()
        where = type(self).__name__
        if contrast not in CONTRASTS:
            raise ValueError(f"{where}: contrast: expected one of {CONTRASTS}, got {contrast!r}")
        if temperature <= 0:
            raise ValueError(f"{where}: temperature: expected a positive number, got {temperature}")
        if contrast == "feature" and not feature_dim:
            raise ValueError(f"{where}: feature_dim: expected the encoder's feature_dim when "
                             f"contrast='feature', got {feature_dim}")
        self.num_classes, self.contrast, self.temperature = num_classes, contrast, temperature
        self.needs = "graphs" if contrast == "graph" else "features"
        self.num_hard_positives = num_hard_positives
        self.num_hard_negatives = num_hard_negatives
        self.num_random_negatives = num_random_negatives
        self.seed = seed
        self._generators: dict[str, torch.Generator] = {}
        # the head is built first and the banks draw nothing: the head's init is where this module
        # draws from torch's global RNG, which seeded runs (and their recorded losses) depend on
        if contrast == "graph":
            self.head = GraphProjectionHead(num_joints, num_subsets, dim)
        else:
            self.head = FeatureProjectionHead(feature_dim, dim)

    def _generator(self, device: torch.device) -> torch.Generator:
        key = str(device)
        if key not in self._generators:
            self._generators[key] = torch.Generator(device=device).manual_seed(self.seed)
        return self._generators[key]

    # the random-negative draws are part of the state, so a resumed run draws what it would
    # have; a uint8 tensor (the generator's state; empty before the first draw), like a buffer
    def get_extra_state(self) -> torch.Tensor:
        generator = self._generators.get(str(self.instance_bank.vectors.device))
        return generator.get_state() if generator is not None else torch.zeros(0, dtype=torch.uint8)

    def set_extra_state(self, state: torch.Tensor) -> None:
        if state.numel():
            self._generator(self.instance_bank.vectors.device).set_state(state.cpu())

    def _contrast_sets(self, anchors: torch.Tensor, labels: torch.Tensor, random_excludes_hard: bool
                       ) -> tuple[torch.Tensor, ContrastSets, torch.Tensor, torch.Tensor]:
        """Instance-bank entries, the picks per anchor, and the (B, E) positive/negative masks."""
        entries, entry_labels, valid = self.instance_bank.flat()
        # fp32 with autocast off: a bf16 matmul would reorder near-equal similarities (hard picks)
        with torch.no_grad(), torch.autocast(device_type=anchors.device.type, enabled=False):
            similarity = anchors.detach().float() @ entries.float().t()
            same = entry_labels[None, :] == labels[:, None]
            positive, negative = valid & same, valid & ~same
            sets = sample_contrast_sets(similarity, positive, negative, self.num_hard_positives,
                                        self.num_hard_negatives, self.num_random_negatives,
                                        self._generator(entries.device), random_excludes_hard)
        return entries, sets, positive, negative

    def contrast_terms(self, anchors: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """The named loss terms of (B, dim) unit anchors against the banks as they are."""
        raise NotImplementedError

    def write_batch(self, anchors: torch.Tensor, labels: torch.Tensor,
                    sample_index: torch.Tensor | None) -> None:
        """Write the batch's detached anchors into the banks (train mode, after the losses)."""
        raise NotImplementedError

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor,
                sample_index: torch.Tensor | None = None, num_persons: int = 1) -> dict[str, torch.Tensor]:
        where = f"{type(self).__name__}.forward"
        # catches a num_persons passed positionally where sample_index stands (third, as in AuxiliaryLoss)
        if sample_index is not None and not torch.is_tensor(sample_index):
            raise DataFormatError(where, "sample_index", "None or a tensor of dataset indices "
                                  "(num_persons is the fourth argument)", repr(sample_index))
        anchors = self.head(inputs, num_persons)
        device = self.instance_bank.vectors.device
        labels = check_labels(labels.to(device), self.num_classes, anchors.shape[0], where)
        if sample_index is not None and tuple(sample_index.shape) != (anchors.shape[0],):
            raise DataFormatError(where, "sample_index", f"shape ({anchors.shape[0]},)",
                                  str(tuple(sample_index.shape)))
        anchors = anchors.to(device)
        terms = self.contrast_terms(anchors, labels)
        # Write the batch only after the losses: written first, every anchor would meet its own
        # detached copy (a similarity-1 positive, and 15 % of its class vector), a trivial term
        # that carries no cross-sequence context; this is also MoCo's compute-then-enqueue order.
        # Under torchrun every process writes the whole global batch (gathered in rank order),
        # so the banks stay identical across processes and equal to one process's.
        if self.training:
            self.write_batch(gather_rows(anchors.detach()), gather_rows(labels),
                             None if sample_index is None else gather_rows(sample_index.to(device)))
        return terms


class PaperGraphContrast(GraphContrastBase):
    """The paper's SkeletonGCL: L_ins against a per-class FIFO bank, L_sem against class vectors.

    Per anchor: the `num_hard_positives` least similar same-class entries, each a row against
    the `num_hard_negatives` most similar other-class entries plus `num_random_negatives`
    random other ones (`instance_contrast_loss`); and InfoNCE over the class vectors
    (`semantic_contrast_loss`). With `class_counts` P is capped at the smallest training class
    (`cap_per_class`); the cap's message is `setup_message`. Returns loss_instance and
    loss_semantic. The choices where the paper is silent are in the docstrings of `heads`, `banks`
    and `losses` and in docs/methods.md (SkeletonGCL).
    """

    def __init__(self, num_classes: int, num_joints: int = 25, per_class: int = 684, dim: int = 256,
                 temperature: float = 1.0, semantic_momentum: float = 0.85,
                 num_hard_positives: int = 128, num_hard_negatives: int = 512,
                 num_random_negatives: int = 512, contrast: str = "graph",
                 feature_dim: int | None = None, num_subsets: int = 3, class_counts=None,
                 seed: int = 0):
        super().__init__(num_classes, num_joints, dim, temperature, num_hard_positives,
                         num_hard_negatives, num_random_negatives, contrast, feature_dim,
                         num_subsets, seed)
        if class_counts is not None:
            per_class, self.setup_message = cap_per_class(per_class, class_counts)
        self.instance_bank = InstanceMemoryBank(num_classes, per_class, dim)
        self.semantic_bank = SemanticMemoryBank(num_classes, dim, semantic_momentum)

    def contrast_terms(self, anchors: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        entries, sets, _, _ = self._contrast_sets(anchors, labels, random_excludes_hard=True)
        negatives = torch.cat([entries[sets.hard_negatives], entries[sets.random_negatives]], dim=1)
        neg_mask = torch.cat([sets.hard_negatives_valid, sets.random_negatives_valid], dim=1)
        loss_instance = instance_contrast_loss(anchors, entries[sets.hard_positives],
                                               sets.hard_positives_valid, negatives, neg_mask,
                                               self.temperature)
        loss_semantic = semantic_contrast_loss(anchors, labels, self.semantic_bank.normalized(),
                                               self.semantic_bank.initialized, self.temperature)
        return {"loss_instance": loss_instance, "loss_semantic": loss_semantic}

    def write_batch(self, anchors: torch.Tensor, labels: torch.Tensor,
                    sample_index: torch.Tensor | None) -> None:
        self.instance_bank.enqueue(anchors, labels)
        self.semantic_bank.update(anchors, labels)


class AuthorsCodeGraphContrast(GraphContrastBase):
    """SkeletonGCL as in the authors' released code (docs/methods.md, SkeletonGCL): loss_instance only.

    Differences from the paper: one bank slot per training sample (`SampleMemoryBank`,
    `num_samples` slots, so `sample_index` is required); no semantic bank; the projection FC
    is initialised N(0, sqrt(2 / num_classes)) and never trained (frozen here; gradients still
    reach the encoder through it); an anchor counts only once the bank holds at least
    `num_hard_positives` positives and `num_hard_negatives` and `num_random_negatives`
    negatives for it; each hard positive forms two rows, one against the hard negatives and
    one against random negatives drawn from all negatives. Their temperature default is 0.8.
    One difference is kept on purpose: their code writes the batch before computing the loss
    (an anchor meets itself); here the order is the paper variant's (compute, then write).
    """

    def __init__(self, num_classes: int, num_samples: int, num_joints: int = 25, dim: int = 256,
                 temperature: float = 1.0, num_hard_positives: int = 128,
                 num_hard_negatives: int = 512, num_random_negatives: int = 512,
                 contrast: str = "graph", feature_dim: int | None = None, num_subsets: int = 3,
                 seed: int = 0):
        if not num_samples:
            raise ValueError(f"{type(self).__name__}: num_samples: expected the training set size; "
                             f"got {num_samples}")
        super().__init__(num_classes, num_joints, dim, temperature, num_hard_positives,
                         num_hard_negatives, num_random_negatives, contrast, feature_dim,
                         num_subsets, seed)
        self.instance_bank = SampleMemoryBank(num_samples, dim)
        # as the authors' code: this init, and the FC is not in the optimiser (never trained);
        # it is drawn after PyTorch's default init, so torch's RNG advances as for the paper's head
        nn.init.normal_(self.head.fc.weight, 0.0, math.sqrt(2.0 / num_classes))
        nn.init.zeros_(self.head.fc.bias)
        self.head.requires_grad_(False)

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor,
                sample_index: torch.Tensor | None = None, num_persons: int = 1) -> dict[str, torch.Tensor]:
        if sample_index is None:  # a missing argument, not bad data: a plain ValueError
            raise ValueError(f"{type(self).__name__}.forward: sample_index: expected the dataset "
                             "indices of the batch (one bank slot per sample), got None")
        return super().forward(inputs, labels, sample_index, num_persons)

    def contrast_terms(self, anchors: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        entries, sets, positive, negative = self._contrast_sets(anchors, labels, random_excludes_hard=False)
        ready = ((positive.sum(1) >= self.num_hard_positives)
                 & (negative.sum(1) >= self.num_hard_negatives)
                 & (negative.sum(1) >= self.num_random_negatives))
        positives = entries[sets.hard_positives]
        pos_ok = sets.hard_positives_valid & ready[:, None]
        # both row sets have the same valid rows, so their mean is the authors' single CE mean
        hard = instance_contrast_loss(anchors, positives, pos_ok, entries[sets.hard_negatives],
                                      sets.hard_negatives_valid, self.temperature)
        rand = instance_contrast_loss(anchors, positives, pos_ok, entries[sets.random_negatives],
                                      sets.random_negatives_valid, self.temperature)
        return {"loss_instance": 0.5 * (hard + rand)}

    def write_batch(self, anchors: torch.Tensor, labels: torch.Tensor,
                    sample_index: torch.Tensor | None) -> None:
        self.instance_bank.enqueue(anchors, labels, sample_index)


VARIANTS = {"paper": PaperGraphContrast, "authors_code": AuthorsCodeGraphContrast}
