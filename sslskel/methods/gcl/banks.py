"""SkeletonGCL memory banks: what each anchor is contrasted against.

* `InstanceMemoryBank` (paper's M_Ins, C_k x P x C_g): P unit vectors per class, first in
  first out per class. P is capped at the smallest training class size (`cap_per_class`):
  a larger P would fill a small class with stale copies of the same few samples.
* `SemanticMemoryBank` (paper's M_Sem, Eq. 4): one vector per class, m <- a m + (1 - a) v.
* `SampleMemoryBank`: the authors' released code's bank, one slot per training sample,
  indexed by dataset index and overwritten whenever the sample is seen.

A batch is written in one indexed operation that gives the same content as writing its
samples one by one in batch order (the tests compare the two).

Example:
    >>> import torch
    >>> bank = InstanceMemoryBank(num_classes=2, per_class=2, dim=3)
    >>> bank.enqueue(torch.eye(3), torch.tensor([0, 0, 0]))   # 3 class-0 vectors, P = 2
    >>> bank.fill_count.tolist(), bank.ordered(0).tolist()
    ([2, 0], [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...data.errors import DataFormatError


def rank_within_class(labels: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For each sample its 0-based order among the batch's samples of its class, and per-class counts."""
    one_hot = F.one_hot(labels, num_classes)
    rank = one_hot.cumsum(dim=0).gather(1, labels[:, None]).squeeze(1) - 1
    return rank, one_hot.sum(dim=0)


def check_labels(labels: torch.Tensor, num_classes: int, batch: int, where: str) -> torch.Tensor:
    """`labels` as a long (batch,) tensor of class indices, or a DataFormatError naming `where`."""
    if labels.dim() != 1 or labels.shape[0] != batch:
        raise DataFormatError(where, "labels", f"shape ({batch},)", str(tuple(labels.shape)))
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise DataFormatError(where, "labels", "an integer tensor", str(labels.dtype))
    if batch and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise DataFormatError(where, "labels", f"class indices in [0, {num_classes})",
                              f"range [{int(labels.min())}, {int(labels.max())}]")
    return labels.long()


def check_vectors(vectors: torch.Tensor, dim: int, where: str) -> None:
    if vectors.dim() != 2 or vectors.shape[1] != dim:
        raise DataFormatError(where, "vectors", f"shape (B, {dim})", str(tuple(vectors.shape)))


def check_batch(vectors: torch.Tensor, labels: torch.Tensor, bank: nn.Module, where: str) -> torch.Tensor:
    """Check a batch against a per-class bank (its dim, num_classes); the labels on its device."""
    check_vectors(vectors, bank.dim, where)
    return check_labels(labels.to(bank.vectors.device), bank.num_classes, vectors.shape[0], where)


def cap_per_class(per_class: int, class_counts) -> tuple[int, str | None]:
    """Cap P at the smallest training class size; returns (P, message for the log or None).

    Classes with no training sample are ignored (they never enter the bank).
    """
    counts = torch.as_tensor(class_counts).long()
    present = counts[counts > 0]
    if present.numel() == 0:
        raise DataFormatError("cap_per_class", "class_counts",
                              "at least one class with training samples", str(counts.tolist()))
    smallest = int(present.min())
    if smallest >= per_class:
        return per_class, None
    which = int(torch.nonzero(counts == smallest)[0])
    return smallest, (f"SkeletonGCL instance bank: P={per_class} capped at {smallest} "
                      f"(class {which} has only {smallest} training samples)")


class InstanceMemoryBank(nn.Module):
    """P unit vectors per class, first-in-first-out per class (paper's M_Ins, C_k x P x C_g)."""

    def __init__(self, num_classes: int, per_class: int = 684, dim: int = 256):
        super().__init__()
        if num_classes < 1 or per_class < 1 or dim < 1:
            raise ValueError(f"InstanceMemoryBank: num_classes/per_class/dim: expected positive integers; "
                             f"got {num_classes}/{per_class}/{dim}")
        self.num_classes, self.per_class, self.dim = num_classes, per_class, dim
        self.register_buffer("vectors", torch.zeros(num_classes, per_class, dim))
        # slot the next vector of each class goes to = the oldest slot once the class is full
        self.register_buffer("write_pointer", torch.zeros(num_classes, dtype=torch.long))
        self.register_buffer("fill_count", torch.zeros(num_classes, dtype=torch.long))

    @torch.no_grad()
    def enqueue(self, vectors: torch.Tensor, labels: torch.Tensor) -> None:
        """Write a batch; same-class samples go to consecutive slots in batch order."""
        labels = check_batch(vectors, labels, self, "InstanceMemoryBank.enqueue")
        if labels.numel() == 0:
            return
        rank, counts = rank_within_class(labels, self.num_classes)
        # more than P samples of a class in one batch: only its last P survive a sequential
        # FIFO; dropping the others keeps the written slots distinct (a repeated index in an
        # indexed write has no defined winner on CUDA)
        keep = rank >= counts[labels] - self.per_class
        slot = (self.write_pointer[labels] + rank) % self.per_class
        self.vectors[labels[keep], slot[keep]] = vectors[keep].detach().to(self.vectors.dtype)
        self.write_pointer.copy_((self.write_pointer + counts) % self.per_class)
        self.fill_count.copy_((self.fill_count + counts).clamp(max=self.per_class))

    def valid_mask(self) -> torch.Tensor:
        """(num_classes, P) True where a slot holds a written vector."""
        slots = torch.arange(self.per_class, device=self.fill_count.device)
        return slots[None, :] < self.fill_count[:, None]

    def flat(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """All slots as (entries (C*P, D), labels (C*P,), valid (C*P,))."""
        labels = torch.arange(self.num_classes, device=self.vectors.device)
        return (self.vectors.reshape(-1, self.dim),
                labels.repeat_interleave(self.per_class),
                self.valid_mask().reshape(-1))

    def ordered(self, class_index: int) -> torch.Tensor:
        """One class's stored vectors, oldest first (for inspection and tests)."""
        fill = int(self.fill_count[class_index])
        if fill < self.per_class:
            return self.vectors[class_index, :fill]
        return torch.roll(self.vectors[class_index], -int(self.write_pointer[class_index]), 0)


class SampleMemoryBank(nn.Module):
    """Authors'-code bank: one slot per training sample, indexed by dataset index, with its label."""

    def __init__(self, num_samples: int, dim: int = 256):
        super().__init__()
        if num_samples < 1 or dim < 1:
            raise ValueError(f"SampleMemoryBank: num_samples/dim: expected positive integers; "
                             f"got {num_samples}/{dim}")
        self.num_samples, self.dim = num_samples, dim
        self.register_buffer("vectors", torch.zeros(num_samples, dim))
        self.register_buffer("labels", torch.full((num_samples,), -1, dtype=torch.long))
        self.register_buffer("filled", torch.zeros(num_samples, dtype=torch.bool))

    @torch.no_grad()
    def enqueue(self, vectors: torch.Tensor, labels: torch.Tensor, sample_index: torch.Tensor) -> None:
        """Overwrite the slots of the batch's samples (a repeated index: its last occurrence wins)."""
        check_vectors(vectors, self.dim, "SampleMemoryBank.enqueue")
        device = self.vectors.device
        batch = vectors.shape[0]
        index = sample_index.to(device).long()
        if index.shape != (batch,) or (batch and (int(index.min()) < 0
                                                  or int(index.max()) >= self.num_samples)):
            raise DataFormatError("SampleMemoryBank.enqueue", "sample_index",
                                  f"shape ({batch},) with values in [0, {self.num_samples})",
                                  f"shape {tuple(index.shape)}")
        if batch == 0:
            return
        order = torch.arange(batch, device=device)
        last = torch.full((self.num_samples,), -1, dtype=torch.long, device=device)
        last.scatter_reduce_(0, index, order, reduce="amax")
        keep = last[index] == order
        self.vectors[index[keep]] = vectors[keep].detach().to(self.vectors.dtype)
        self.labels[index[keep]] = labels.to(device).long()[keep]
        self.filled[index[keep]] = True

    def flat(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """All slots as (entries (S, D), labels (S,), filled (S,)), like `InstanceMemoryBank.flat`."""
        return self.vectors, self.labels, self.filled


class SemanticMemoryBank(nn.Module):
    """One momentum-averaged vector per class (paper's M_Sem, Eq. 4).

    Eq. 4 is written per input sequence; it is applied per sample, in batch order, in closed
    form: k samples v_0..v_{k-1} of class c give m <- a^k m + (1 - a) sum_j a^(k-1-j) v_j.
    A class seen for the first time starts from its first sample, not from zeros (a zero
    start would shrink the vector and tie its norm to the first batches). The stored vector
    is Eq. 4's average, not renormalised (the paper does not); `normalized()` is what the
    loss reads, so its similarity is a cosine like the instance one.
    """

    def __init__(self, num_classes: int, dim: int = 256, momentum: float = 0.85):
        super().__init__()
        if not 0.0 < momentum < 1.0:
            raise ValueError(f"SemanticMemoryBank: momentum: expected a value in (0, 1), got {momentum}")
        self.num_classes, self.dim, self.momentum = num_classes, dim, momentum
        self.register_buffer("vectors", torch.zeros(num_classes, dim))
        self.register_buffer("initialized", torch.zeros(num_classes, dtype=torch.bool))

    @torch.no_grad()
    def update(self, vectors: torch.Tensor, labels: torch.Tensor) -> None:
        """Eq. 4 applied per sample in batch order, in closed form (see the class docstring)."""
        labels = check_batch(vectors, labels, self, "SemanticMemoryBank.update")
        if labels.numel() == 0:
            return
        v = vectors.detach().to(self.vectors.dtype)
        rank, counts = rank_within_class(labels, self.num_classes)
        a = self.momentum
        start = self.vectors.clone()
        first_sight = (rank == 0) & ~self.initialized[labels]
        start[labels[first_sight]] = v[first_sight]
        steps_after = (counts[labels] - 1 - rank).to(v.dtype)
        weights = (1.0 - a) * torch.pow(torch.full_like(steps_after, a), steps_after)
        added = torch.zeros_like(start).index_add_(0, labels, weights[:, None] * v)
        decay = torch.pow(torch.full_like(counts, a, dtype=v.dtype), counts.to(v.dtype))
        self.vectors.copy_(decay[:, None] * start + added)
        self.initialized |= counts > 0

    def normalized(self) -> torch.Tensor:
        return F.normalize(self.vectors, dim=1)
