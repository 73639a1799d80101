"""Losses as pure functions of tensors (no modules, no state).

* `info_nce`: MoCo's InfoNCE, each query against its key and a queue of negatives.
* `nt_xent`: SimCLR's NT-Xent over the 2N embeddings of two views (2N - 2 in-batch negatives).
* `supcon`: Khosla et al.'s supervised contrastive loss (the L_out form).

Precision: all three compute in at least fp32 with autocast switched off inside, so bf16
inputs (or a caller under bf16 autocast) give fp32 results and fp64 stays fp64 (never demoted):
a softmax over a few hundred similarities divided by a temperature of 0.07 is where bf16's
8-bit mantissa (similarities off by up to 0.004, logits by 0.06) would show. Casting q and k
with `.float()` is not enough: an enclosing autocast recasts the matmul itself to bf16. For
fp32 inputs the arithmetic is unchanged (MoCo's bit-exact regression tests depend on it).

Example:
    >>> import torch, torch.nn.functional as F
    >>> q = F.normalize(torch.randn(4, 8), dim=1); k = F.normalize(torch.randn(4, 8), dim=1)
    >>> queue = F.normalize(torch.randn(16, 8), dim=1)
    >>> loss, logits = info_nce(q, k, queue, temperature=0.07)
    >>> logits.shape
    torch.Size([4, 17])
    >>> e = torch.eye(2)  # two samples, each view identical to the other: positives score 1, negatives 0
    >>> loss, top1 = nt_xent(e, e, temperature=1.0)
    >>> round(float(loss), 4), float(top1)  # log((e + 2) / e)
    (0.5514, 1.0)
    >>> z = torch.stack([e, e])  # (views, N, D); every sample its own class: SupCon = NT-Xent
    >>> round(float(supcon(z, torch.tensor([0, 1]), temperature=1.0)), 4)
    0.5514
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .precision import at_least_fp32, at_least_fp32_dtype, no_autocast


def info_nce(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, temperature: float):
    """MoCo's InfoNCE: each query against its key (positive) and every queue entry (negatives).

    q, k: (B, D) L2-normalised; queue: (K, D) L2-normalised, treated as constants.
    Returns the mean loss and the (B, 1 + K) logits (positive in column 0).
    Computed in at least fp32 with autocast off: under bf16 autocast q @ queue.T would
    otherwise run in bf16 and the logits (divided by 0.07) would be off by up to ~0.02.
    """
    dtype = at_least_fp32_dtype(q, k, queue)
    with no_autocast(q):
        q, k, queue = q.to(dtype), k.to(dtype), queue.to(dtype)
        l_pos = (q * k).sum(dim=1, keepdim=True)
        l_neg = q @ queue.t()
        logits = torch.cat([l_pos, l_neg], dim=1) / temperature
        labels = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
        return F.cross_entropy(logits, labels), logits


def _check_temperature(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name}: expected a positive number, got {value!r}")


def _contrastive_log_prob(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """(M, M) log-softmax of cosine similarity / temperature over the M - 1 others of each row.

    The diagonal (self-similarity, never a candidate) is -inf before the softmax and 0 after,
    so it drops out of any masked sum without producing nan.
    """
    z = F.normalize(at_least_fp32(z), dim=1)
    logits = z @ z.t() / temperature
    self_mask = torch.eye(z.shape[0], dtype=torch.bool, device=z.device)
    log_prob = logits.masked_fill(self_mask, float("-inf")).log_softmax(dim=1)
    return log_prob.masked_fill(self_mask, 0.0)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """SimCLR's NT-Xent (Chen et al. 2020): 2N anchors, one positive and 2N - 2 negatives each.

    z1, z2: (N, D), row i of each the two views of sample i, N >= 2 (ValueError otherwise: with
    one sample there is no negative and the loss is identically 0). The rows are L2-normalised
    here (our choice: SimCLR scores by cosine similarity; already unit rows, such as the
    variational head's samples, are unchanged up to rounding). With the 2N rows
    u = [z1; z2] and s_ab = u_a . u_b / temperature, the anchor a's positive p(a) is the other
    view of its sample and every other row but itself is a negative:

        loss = 1/(2N) sum_a -log( exp(s_a,p(a)) / sum_{b != a} exp(s_ab) )

    Returns (loss, top1): the mean loss, and the fraction of the 2N anchors whose positive
    scores highest among their 2N - 1 candidates (a detached scalar for logging; ties count
    as misses). Both fp32 at least (module docstring).
    """
    if z1.dim() != 2 or z1.shape != z2.shape:
        raise ValueError(f"nt_xent: expected z1 and z2 of one shape (N, D), got {tuple(z1.shape)} and {tuple(z2.shape)}")
    n = z1.shape[0]
    if n < 2:
        raise ValueError(f"nt_xent: expected N >= 2 samples (one negative at least), got N = {n}")
    _check_temperature("nt_xent: temperature", temperature)
    with no_autocast(z1):
        log_prob = _contrastive_log_prob(torch.cat([z1, z2]), temperature)
        positive = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(log_prob.device)
        positive_log_prob = log_prob.gather(1, positive[:, None]).squeeze(1)
        loss = -positive_log_prob.mean()
        with torch.no_grad():
            # a hit: the positive beats every negative (self is no candidate)
            excluded = torch.eye(2 * n, dtype=torch.bool, device=log_prob.device).scatter_(1, positive[:, None], True)
            best_negative = log_prob.masked_fill(excluded, float("-inf")).amax(dim=1)
            top1 = (positive_log_prob > best_negative).float().mean()
    return loss, top1


def supcon(z: torch.Tensor, labels: torch.Tensor, temperature: float = 0.07,
           base_temperature: float | None = None) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al., NeurIPS 2020), the L_out form (their Eq. 2).

    z: (V, N, D), V views of N samples, with labels (N,); or (M, D) with labels (M,), any set
    of embeddings with one label each. (The authors' code takes (N, V, D); here views come
    first, as `torch.stack(batch_views)` gives them.) The M = V * N rows are L2-normalised
    here (as in `nt_xent`). Every row i is an anchor; its positives P(i) are the other rows
    with its label, its candidates A(i) every row but itself:

        loss_i = -1/|P(i)| sum_{p in P(i)} log( exp(z_i.z_p / t) / sum_{a in A(i)} exp(z_i.z_a / t) )
        loss   = (t / base_temperature) * mean of loss_i over the anchors with |P(i)| > 0

    Anchors with no positive (a label seen once, with V = 1) are left out of the mean (our
    choice: the authors' current code counts them as 0 in the mean, which makes the loss
    depend on how many singletons a batch has). When no anchor has a positive the loss is 0,
    still connected to z's graph so `backward` runs. `base_temperature=None` (our default)
    means no rescaling; the authors' code uses base_temperature = 0.07, which with t = 0.07
    is a factor of 1. The paper's temperature is 0.07 (the default here; NT-Xent's is
    usually 0.1 to 0.5). With V = 2 and every sample its own label this is `nt_xent`.
    Returns the mean loss, fp32 at least (module docstring).
    """
    if z.dim() == 3:
        if labels.shape != (z.shape[1],):
            raise ValueError(f"supcon: z of shape (V, N, D) = {tuple(z.shape)} needs labels of shape (N,), "
                             f"got {tuple(labels.shape)}")
        labels = labels.repeat(z.shape[0])  # row v * N + i is view v of sample i
        z = z.reshape(-1, z.shape[-1])
    elif z.dim() != 2 or labels.shape != (z.shape[0],):
        raise ValueError(f"supcon: expected z (V, N, D) with labels (N,) or z (M, D) with labels (M,), "
                         f"got {tuple(z.shape)} and {tuple(labels.shape)}")
    _check_temperature("supcon: temperature", temperature)
    if base_temperature is not None:
        _check_temperature("supcon: base_temperature", base_temperature)
    labels = labels.to(z.device)
    with no_autocast(z):
        log_prob = _contrastive_log_prob(z, temperature)
        positives = (labels[:, None] == labels[None, :]).fill_diagonal_(False)
        counts = positives.sum(dim=1)
        has_positive = counts > 0
        if not has_positive.any():
            return log_prob.sum() * 0.0
        per_anchor = -(log_prob * positives).sum(dim=1)[has_positive] / counts[has_positive]
        loss = per_anchor.mean()
    scale = 1.0 if base_temperature is None else temperature / base_temperature
    return loss * scale
