"""SkeletonGCL graph contrast (Huang et al., ICLR 2023): heads, memory banks, hard sampling, losses.

Used in the supervised training stage next to cross-entropy: total loss = CE + L_ins + L_sem.
The encoder's last unit yields refinement graphs (N*M, K=3, C, V, V); `GraphProjectionHead`
averages persons and channels, flattens to K*V*V (1875 on NTU), applies one FC to C_g = 256
and L2-normalises. Each projected graph v is contrasted against two memory banks:

* instance bank, P graphs per class, first-in-first-out (`InstanceMemoryBank`);
  for every anchor: the K_H+ = 128 hardest positives (least similar same-class entries), the
  K_H- = 512 hardest negatives (most similar other-class entries) and K_R = 512 random
  other-class entries; every (anchor, positive) row is a softmax InfoNCE over
  [positive, hard + random negatives] (`instance_contrast_loss`);
* semantic bank, one vector per class, m <- a m + (1 - a) v with a = 0.85
  (`SemanticMemoryBank`); InfoNCE of each anchor over all class vectors, its own class being
  the positive (`semantic_contrast_loss`).

`GraphContrast` ties these together; losses are computed against the banks' current content
and the batch is written afterwards. Nothing of this is used at inference.

Choices where the paper is silent (all tested):
* sim(v, v') is the dot product of unit vectors (cosine). Eq. 3/5/6 print sim/tau without exp;
  that is a typo (the ratio would not be a probability): we use exp(sim/tau) as InfoNCE.
* Eq. 5 sums over positives; the loss here is the mean over all valid (anchor, positive)
  rows, as the authors' code (one cross-entropy over all rows). A row with no valid negative
  is left out (its InfoNCE would be log 1 = 0 and only dilute the mean).
* Random negatives are drawn uniformly without replacement from the other-class entries not
  already picked as hard negatives, so no bank entry appears twice in one denominator. With
  fewer entries than asked (early training, small P) all available ones are used and the
  missing slots are masked.
* Semantic update (Eq. 4 is written per input sequence): applied per sample, sequentially in
  batch order, in closed form: k samples v_0..v_{k-1} of class c give
  m <- a^k m + (1 - a) sum_j a^(k-1-j) v_j. A class never seen before starts from its first
  sample (m = v_0 before the updates, equivalently m = a^(k-1) v_0 + ...), not from zeros
  (a zero start would shrink the vector and bias it towards the first batches' norm).
  The stored vector is Eq. 4's average, not renormalised (the paper does not renormalise);
  it is L2-normalised when read, so its similarity is a cosine like the instance one.
* P is capped at the smallest training class size when given class counts
  (`cap_per_class`): a larger P would fill a small class with stale copies of the same samples.
* Projection FC: PyTorch's default init (paper: unspecified).

The authors' released code (variant="authors_code") differs and is available as an option:
one bank slot per training sample (`SampleMemoryBank`, indexed by dataset index, overwritten
whenever the sample is seen), no semantic bank, the projection FC is never trained (frozen
here, init N(0, sqrt(2 / num_classes)) as theirs), an anchor contributes only once it has
>= K_H+ positives and >= K_H- negatives in the bank, and each hard positive forms two rows:
one against the hard negatives and one against K_R random negatives (drawn from all
negatives). One deliberate difference remains: their code writes the batch into the bank
before computing the loss (an anchor sees itself); here the order is the same as the paper
variant (compute, then write). Their temperature default is 0.8 (pass temperature=0.8).

Example:
    >>> import torch
    >>> gcl = GraphContrast(num_classes=4, num_joints=5, per_class=8, dim=16,
    ...                     num_hard_positives=4, num_hard_negatives=6, num_random_negatives=6)
    >>> graphs = torch.randn(6 * 2, 3, 8, 5, 5, requires_grad=True)  # (N*M, K, C, V, V)
    >>> labels = torch.tensor([0, 1, 2, 3, 0, 1])
    >>> out = gcl(graphs, labels, num_persons=2)   # banks empty: losses are exactly 0
    >>> out["loss"].item()
    0.0
    >>> out = gcl(graphs, labels, num_persons=2)   # now contrasts with the first batch
    >>> out["loss"].backward(); bool(out["loss"] > 0), graphs.grad.shape
    (True, torch.Size([12, 3, 8, 5, 5]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data.errors import DataFormatError

VARIANTS = ("paper", "authors_code")
CONTRASTS = ("graph", "feature")


# --------------------------------------------------------------------------- projection heads

def average_graphs(graphs: torch.Tensor, num_persons: int) -> torch.Tensor:
    """(N*M, K, C, V, V) -> mean over persons and channels, flattened -> (N, K*V*V)."""
    n = graphs.shape[0] // num_persons
    per_sample = graphs.reshape(n, num_persons, *graphs.shape[1:])
    return per_sample.mean(dim=(1, 3)).reshape(n, -1)


class GraphProjectionHead(nn.Module):
    """(N*M, K, C, V, V) refinement graphs -> (N, dim) unit vectors (paper Sec. 3.2, App. 6.1)."""

    def __init__(self, num_joints: int = 25, num_subsets: int = 3, dim: int = 256):
        super().__init__()
        self.num_joints = num_joints
        self.num_subsets = num_subsets
        self.fc = nn.Linear(num_subsets * num_joints * num_joints, dim)

    def flatten_graphs(self, graphs: torch.Tensor, num_persons: int) -> torch.Tensor:
        """Average over persons and channels, flatten: (N*M, K, C, V, V) -> (N, K*V*V)."""
        k, v = self.num_subsets, self.num_joints
        if graphs.dim() != 5 or graphs.shape[1] != k or graphs.shape[3:] != (v, v):
            raise DataFormatError("GraphProjectionHead", "graphs",
                                  f"shape (N*M, {k}, C, {v}, {v})", str(tuple(graphs.shape)))
        if num_persons < 1 or graphs.shape[0] % num_persons:
            raise DataFormatError("GraphProjectionHead", "num_persons",
                                  f"a positive divisor of the graphs' first dimension "
                                  f"{graphs.shape[0]}", str(num_persons))
        return average_graphs(graphs, num_persons)

    def forward(self, graphs: torch.Tensor, num_persons: int = 1) -> torch.Tensor:
        flat = self.flatten_graphs(graphs, num_persons)
        # normalise in fp32 so the bank (fp32) and the anchors agree under autocast
        return F.normalize(self.fc(flat).float(), dim=1)


class FeatureProjectionHead(nn.Module):
    """(N, in_dim) encoder features -> (N, dim) unit vectors: the "feature contrast" ablation (Tab. 4)."""

    def __init__(self, in_dim: int, dim: int = 256):
        super().__init__()
        self.fc = nn.Linear(in_dim, dim)

    def forward(self, features: torch.Tensor, num_persons: int = 1) -> torch.Tensor:
        # num_persons is accepted for a common interface; encoder features are already per sample
        if features.dim() != 2 or features.shape[1] != self.fc.in_features:
            raise DataFormatError("FeatureProjectionHead", "features",
                                  f"shape (N, {self.fc.in_features})", str(tuple(features.shape)))
        return F.normalize(self.fc(features).float(), dim=1)


# --------------------------------------------------------------------------- memory banks

def rank_within_class(labels: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For each sample its 0-based order among the batch's samples of its class, and per-class counts."""
    one_hot = F.one_hot(labels, num_classes)
    rank = one_hot.cumsum(dim=0).gather(1, labels[:, None]).squeeze(1) - 1
    return rank, one_hot.sum(dim=0)


def _check_labels(labels: torch.Tensor, num_classes: int, batch: int, where: str) -> torch.Tensor:
    if labels.dim() != 1 or labels.shape[0] != batch:
        raise DataFormatError(where, "labels", f"shape ({batch},)", str(tuple(labels.shape)))
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise DataFormatError(where, "labels", "an integer tensor", str(labels.dtype))
    if batch and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise DataFormatError(where, "labels", f"class indices in [0, {num_classes})",
                              f"range [{int(labels.min())}, {int(labels.max())}]")
    return labels.long()


def _check_vectors(vectors: torch.Tensor, dim: int, where: str) -> None:
    if vectors.dim() != 2 or vectors.shape[1] != dim:
        raise DataFormatError(where, "vectors", f"shape (B, {dim})", str(tuple(vectors.shape)))


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
        _check_vectors(vectors, self.dim, "InstanceMemoryBank.enqueue")
        labels = _check_labels(labels.to(self.vectors.device), self.num_classes,
                               vectors.shape[0], "InstanceMemoryBank.enqueue")
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
        _check_vectors(vectors, self.dim, "SampleMemoryBank.enqueue")
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
        return self.vectors, self.labels, self.filled


class SemanticMemoryBank(nn.Module):
    """One momentum-averaged vector per class (paper's M_Sem, Eq. 4)."""

    def __init__(self, num_classes: int, dim: int = 256, momentum: float = 0.85):
        super().__init__()
        if not 0.0 < momentum < 1.0:
            raise ValueError(f"SemanticMemoryBank: momentum: expected a value in (0, 1); got {momentum}")
        self.num_classes, self.dim, self.momentum = num_classes, dim, momentum
        self.register_buffer("vectors", torch.zeros(num_classes, dim))
        self.register_buffer("initialized", torch.zeros(num_classes, dtype=torch.bool))

    @torch.no_grad()
    def update(self, vectors: torch.Tensor, labels: torch.Tensor) -> None:
        """Eq. 4 applied per sample in batch order, in closed form (see the module docstring)."""
        _check_vectors(vectors, self.dim, "SemanticMemoryBank.update")
        labels = _check_labels(labels.to(self.vectors.device), self.num_classes,
                               vectors.shape[0], "SemanticMemoryBank.update")
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


# --------------------------------------------------------------------------- hard sampling

@dataclass
class ContrastSets:
    """Bank indices (B, k) chosen per anchor and masks of which picks are real."""
    hard_positives: torch.Tensor
    hard_positives_valid: torch.Tensor
    hard_negatives: torch.Tensor
    hard_negatives_valid: torch.Tensor
    random_negatives: torch.Tensor
    random_negatives_valid: torch.Tensor


def _masked_topk(scores: torch.Tensor, mask: torch.Tensor, k: int, largest: bool):
    k = min(k, scores.shape[1])
    fill = float("-inf") if largest else float("inf")
    _, index = scores.masked_fill(~mask, fill).topk(k, dim=1, largest=largest)
    return index, mask.gather(1, index)


def sample_contrast_sets(similarity: torch.Tensor, positive_mask: torch.Tensor,
                         negative_mask: torch.Tensor, num_hard_positives: int,
                         num_hard_negatives: int, num_random_negatives: int,
                         generator: torch.Generator | None = None,
                         random_excludes_hard: bool = True) -> ContrastSets:
    """Pick hard positives (least similar), hard negatives (most similar), random negatives.

    similarity, positive_mask, negative_mask: (B, E) over bank entries. Random negatives are
    uniform without replacement: the top-k of i.i.d. uniform keys over the allowed entries.
    """
    with torch.no_grad():
        pos_idx, pos_ok = _masked_topk(similarity, positive_mask, num_hard_positives, largest=False)
        hard_idx, hard_ok = _masked_topk(similarity, negative_mask, num_hard_negatives, largest=True)
        pool = negative_mask
        if random_excludes_hard:
            chosen = torch.zeros_like(negative_mask)
            chosen.scatter_(1, hard_idx, hard_ok)
            pool = negative_mask & ~chosen
        keys = torch.rand(similarity.shape, generator=generator, device=similarity.device)
        rand_idx, rand_ok = _masked_topk(keys, pool, num_random_negatives, largest=True)
    return ContrastSets(pos_idx, pos_ok, hard_idx, hard_ok, rand_idx, rand_ok)


# --------------------------------------------------------------------------- losses

def _zero_loss(anchors: torch.Tensor) -> torch.Tensor:
    """An exact 0 that still belongs to the autograd graph (backward() works, grads are 0)."""
    return anchors.sum() * 0.0 + 0.0  # "+ 0.0" turns a -0.0 into 0.0


def instance_contrast_loss(anchors: torch.Tensor, positives: torch.Tensor, pos_mask: torch.Tensor,
                           negatives: torch.Tensor, neg_mask: torch.Tensor,
                           temperature: float = 1.0) -> torch.Tensor:
    """Mean over valid (anchor, positive) rows of -log e^{a.p/t} / (e^{a.p/t} + sum_n e^{a.n/t}).

    anchors (B, D); positives (B, Pp, D), pos_mask (B, Pp); negatives (B, Nn, D), neg_mask (B, Nn).
    A row is valid when its positive is and its anchor has at least one valid negative.
    """
    pos_logits = torch.einsum("bd,bpd->bp", anchors, positives) / temperature
    neg_logits = torch.einsum("bd,bnd->bn", anchors, negatives) / temperature
    has_negative = neg_mask.any(dim=1)
    rows = pos_mask & has_negative[:, None]
    if not bool(rows.any()):
        return _zero_loss(anchors)
    # a row of only -inf would give NaN gradients through logsumexp even when masked later
    neg_logits = neg_logits.masked_fill(~neg_mask, float("-inf"))
    neg_logits = torch.where(has_negative[:, None], neg_logits, torch.zeros_like(neg_logits))
    neg_lse = torch.logsumexp(neg_logits, dim=1, keepdim=True)
    per_row = torch.logaddexp(pos_logits, neg_lse) - pos_logits
    return per_row[rows].mean()


def semantic_contrast_loss(anchors: torch.Tensor, labels: torch.Tensor, class_vectors: torch.Tensor,
                           valid_classes: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Mean over anchors of -log softmax over valid class vectors at the anchor's own class (Eq. 6).

    anchors (B, D), labels (B,), class_vectors (K, D), valid_classes (K,) bool. An anchor counts
    when its own class vector and at least one other class vector are valid.
    """
    labels = labels.long()
    logits = anchors @ class_vectors.t() / temperature
    own_valid = valid_classes[labels]
    other_valid = valid_classes.sum() - own_valid.long() > 0
    rows = own_valid & other_valid
    if not bool(rows.any()):
        return _zero_loss(anchors)
    logits = logits[rows].masked_fill(~valid_classes[None, :], float("-inf"))
    own = logits.gather(1, labels[rows][:, None]).squeeze(1)
    return (torch.logsumexp(logits, dim=1) - own).mean()


# --------------------------------------------------------------------------- the module

class GraphContrast(nn.Module):
    """SkeletonGCL's training-only branch: projection head + banks + L_ins + L_sem.

    forward(graphs_or_features, labels, num_persons, sample_index=None) returns
    dict(loss_instance, loss_semantic, loss); in train mode the banks are then updated,
    in eval mode they are left as they are (evaluation must not change training state).
    """

    def __init__(self, num_classes: int, num_joints: int = 25, per_class: int = 684, dim: int = 256,
                 temperature: float = 1.0, semantic_momentum: float = 0.85,
                 num_hard_positives: int = 128, num_hard_negatives: int = 512,
                 num_random_negatives: int = 512, variant: str = "paper", contrast: str = "graph",
                 feature_dim: int | None = None, num_subsets: int = 3,
                 class_counts=None, num_samples: int | None = None, seed: int = 0):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"GraphContrast: variant: expected one of {VARIANTS}; got {variant!r}")
        if contrast not in CONTRASTS:
            raise ValueError(f"GraphContrast: contrast: expected one of {CONTRASTS}; got {contrast!r}")
        if temperature <= 0:
            raise ValueError(f"GraphContrast: temperature: expected a positive number; got {temperature}")
        if contrast == "feature" and not feature_dim:
            raise ValueError("GraphContrast: feature_dim: expected the encoder's feature_dim when "
                             f"contrast='feature'; got {feature_dim}")
        if variant == "authors_code" and not num_samples:
            raise ValueError("GraphContrast: num_samples: expected the training set size when "
                             f"variant='authors_code'; got {num_samples}")
        self.num_classes, self.variant, self.contrast = num_classes, variant, contrast
        self.temperature = temperature
        self.num_hard_positives = num_hard_positives
        self.num_hard_negatives = num_hard_negatives
        self.num_random_negatives = num_random_negatives
        self.seed = seed
        self._generators: dict[str, torch.Generator] = {}

        if contrast == "graph":
            self.head = GraphProjectionHead(num_joints, num_subsets, dim)
        else:
            self.head = FeatureProjectionHead(feature_dim, dim)

        self.cap_message = None
        if variant == "paper":
            if class_counts is not None:
                per_class, self.cap_message = cap_per_class(per_class, class_counts)
            self.instance_bank = InstanceMemoryBank(num_classes, per_class, dim)
            self.semantic_bank = SemanticMemoryBank(num_classes, dim, semantic_momentum)
        else:
            self.instance_bank = SampleMemoryBank(num_samples, dim)
            self.semantic_bank = None
            # as the authors' code: this init, and the FC is not in the optimiser (never trained);
            # gradients still flow through it to the graphs
            nn.init.normal_(self.head.fc.weight, 0.0, math.sqrt(2.0 / num_classes))
            nn.init.zeros_(self.head.fc.bias)
            self.head.requires_grad_(False)

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

    def _instance_loss_paper(self, anchors, labels) -> torch.Tensor:
        entries, entry_labels, valid = self.instance_bank.flat()
        with torch.no_grad():
            similarity = anchors.detach() @ entries.t()
            same = entry_labels[None, :] == labels[:, None]
            sets = sample_contrast_sets(similarity, valid & same, valid & ~same,
                                        self.num_hard_positives, self.num_hard_negatives,
                                        self.num_random_negatives, self._generator(entries.device))
        negatives = torch.cat([entries[sets.hard_negatives], entries[sets.random_negatives]], dim=1)
        neg_mask = torch.cat([sets.hard_negatives_valid, sets.random_negatives_valid], dim=1)
        return instance_contrast_loss(anchors, entries[sets.hard_positives], sets.hard_positives_valid,
                                      negatives, neg_mask, self.temperature)

    def _instance_loss_authors(self, anchors, labels) -> torch.Tensor:
        entries, entry_labels, filled = self.instance_bank.flat()
        with torch.no_grad():
            similarity = anchors.detach() @ entries.t()
            same = entry_labels[None, :] == labels[:, None]
            pos_mask, neg_mask = filled & same, filled & ~same
            ready = ((pos_mask.sum(1) >= self.num_hard_positives)
                     & (neg_mask.sum(1) >= self.num_hard_negatives)
                     & (neg_mask.sum(1) >= self.num_random_negatives))
            sets = sample_contrast_sets(similarity, pos_mask, neg_mask, self.num_hard_positives,
                                        self.num_hard_negatives, self.num_random_negatives,
                                        self._generator(entries.device), random_excludes_hard=False)
        positives = entries[sets.hard_positives]
        pos_ok = sets.hard_positives_valid & ready[:, None]
        # both row sets have the same valid rows, so their mean is the authors' single CE mean
        hard = instance_contrast_loss(anchors, positives, pos_ok, entries[sets.hard_negatives],
                                      sets.hard_negatives_valid, self.temperature)
        rand = instance_contrast_loss(anchors, positives, pos_ok, entries[sets.random_negatives],
                                      sets.random_negatives_valid, self.temperature)
        return 0.5 * (hard + rand)

    def forward(self, graphs_or_features: torch.Tensor, labels: torch.Tensor, num_persons: int = 1,
                sample_index: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        anchors = self.head(graphs_or_features, num_persons)
        device = self.instance_bank.vectors.device
        labels = _check_labels(labels.to(device), self.num_classes, anchors.shape[0], "GraphContrast.forward")
        anchors = anchors.to(device)
        if self.variant == "authors_code":
            if sample_index is None:
                raise ValueError("GraphContrast.forward: sample_index: expected the dataset indices of "
                                 "the batch for variant='authors_code'; got None")
            loss_instance = self._instance_loss_authors(anchors, labels)
            loss_semantic = _zero_loss(anchors)
        else:
            loss_instance = self._instance_loss_paper(anchors, labels)
            loss_semantic = semantic_contrast_loss(anchors, labels, self.semantic_bank.normalized(),
                                                   self.semantic_bank.initialized, self.temperature)
        # Write the batch only after the losses: written first, every anchor would meet its own
        # detached copy (a similarity-1 positive, and 15 % of its class vector), a trivial term
        # that carries no cross-sequence context; this is also MoCo's compute-then-enqueue order.
        if self.training:
            detached = anchors.detach()
            if self.variant == "authors_code":
                self.instance_bank.enqueue(detached, labels, sample_index)
            else:
                self.instance_bank.enqueue(detached, labels)
                self.semantic_bank.update(detached, labels)
        return {"loss_instance": loss_instance, "loss_semantic": loss_semantic,
                "loss": loss_instance + loss_semantic}
