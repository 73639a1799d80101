"""SkeletonGCL hard sampling and losses: pure functions of anchors and bank entries.

Similarities are dot products of unit vectors (cosines). The paper's Eq. 3/5/6 print
sim/tau without the exponential; that is a typo (the ratio would not be a probability), so
both losses are InfoNCE with exp(sim / tau).

* `sample_contrast_sets`: per anchor the hardest positives (least similar same-class
  entries), the hardest negatives (most similar other-class entries) and random negatives.
  Random negatives are drawn uniformly without replacement from the negatives not already
  taken as hard ones, so no entry appears twice in a denominator; when fewer entries exist
  than asked (early training, small P) all are used and the missing slots are masked.
* `instance_contrast_loss` (Eq. 5): one InfoNCE row per (anchor, positive). Eq. 5 sums over
  positives; here the loss is the mean over all valid rows, as in the authors' code (one
  cross-entropy over all rows). A row without any valid negative is left out (its InfoNCE
  would be log 1 = 0 and only dilute the mean).
* `semantic_contrast_loss` (Eq. 6): InfoNCE of each anchor over the class vectors.

With nothing to contrast the losses are an exact 0 that still belongs to the autograd graph.

Precision: both losses compute in at least fp32 (the common dtype of their inputs; fp64 stays
fp64) with autocast switched off inside, so they are fp32 under bf16 autocast: autocast would
otherwise run the similarity einsum/matmul in bf16 even on fp32 unit vectors, and return bf16.

Example:
    >>> import torch
    >>> anchor = torch.tensor([[1.0, 0.0]])
    >>> class_vectors = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> loss = semantic_contrast_loss(anchor, torch.tensor([0]), class_vectors,
    ...                               torch.tensor([True, True]))
    >>> round(float(loss), 4)  # -log(e / (e + 1))
    0.3133
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...distributed import draw_local_rows
from ..precision import at_least_fp32_dtype, no_autocast


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
        # drawn for the global batch under torchrun, so each anchor gets one process's draw
        keys = draw_local_rows(lambda n: torch.rand((n, similarity.shape[1]), generator=generator,
                                                    device=similarity.device), similarity.shape[0])
        rand_idx, rand_ok = _masked_topk(keys, pool, num_random_negatives, largest=True)
    return ContrastSets(pos_idx, pos_ok, hard_idx, hard_ok, rand_idx, rand_ok)


def zero_loss(anchors: torch.Tensor) -> torch.Tensor:
    """An exact 0 that still belongs to the autograd graph (backward() works, grads are 0)."""
    return anchors.sum() * 0.0 + 0.0  # "+ 0.0" turns a -0.0 into 0.0


def instance_contrast_loss(anchors: torch.Tensor, positives: torch.Tensor, pos_mask: torch.Tensor,
                           negatives: torch.Tensor, neg_mask: torch.Tensor,
                           temperature: float = 1.0) -> torch.Tensor:
    """Mean over valid (anchor, positive) rows of -log e^{a.p/t} / (e^{a.p/t} + sum_n e^{a.n/t}).

    anchors (B, D); positives (B, Pp, D), pos_mask (B, Pp); negatives (B, Nn, D), neg_mask (B, Nn).
    A row is valid when its positive is and its anchor has at least one valid negative.
    Computed in at least fp32 with autocast off (module docstring): bf16 similarities / t lose ~1e-2.
    """
    dtype = at_least_fp32_dtype(anchors, positives, negatives)
    with no_autocast(anchors):
        anchors, positives, negatives = anchors.to(dtype), positives.to(dtype), negatives.to(dtype)
        pos_logits = torch.einsum("bd,bpd->bp", anchors, positives) / temperature
        neg_logits = torch.einsum("bd,bnd->bn", anchors, negatives) / temperature
        has_negative = neg_mask.any(dim=1)
        rows = pos_mask & has_negative[:, None]
        if not bool(rows.any()):
            return zero_loss(anchors)
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
    Computed in at least fp32 with autocast off (module docstring): bf16 similarities / t lose ~1e-2.
    """
    labels = labels.long()
    dtype = at_least_fp32_dtype(anchors, class_vectors)
    with no_autocast(anchors):
        anchors, class_vectors = anchors.to(dtype), class_vectors.to(dtype)
        logits = anchors @ class_vectors.t() / temperature
        own_valid = valid_classes[labels]
        other_valid = valid_classes.sum() - own_valid.long() > 0
        rows = own_valid & other_valid
        if not bool(rows.any()):
            return zero_loss(anchors)
        logits = logits[rows].masked_fill(~valid_classes[None, :], float("-inf"))
        own = logits.gather(1, labels[rows][:, None]).squeeze(1)
        return (torch.logsumexp(logits, dim=1) - own).mean()
