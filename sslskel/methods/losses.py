"""Losses as pure functions of tensors (no modules, no state).

Example:
    >>> import torch, torch.nn.functional as F
    >>> q = F.normalize(torch.randn(4, 8), dim=1); k = F.normalize(torch.randn(4, 8), dim=1)
    >>> queue = F.normalize(torch.randn(16, 8), dim=1)
    >>> loss, logits = info_nce(q, k, queue, temperature=0.07)
    >>> logits.shape
    torch.Size([4, 17])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, temperature: float):
    """MoCo's InfoNCE: each query against its key (positive) and every queue entry (negatives).

    q, k: (B, D) L2-normalised; queue: (K, D) L2-normalised, treated as constants.
    Returns the mean loss and the (B, 1 + K) logits (positive in column 0).
    """
    l_pos = (q * k).sum(dim=1, keepdim=True)
    l_neg = q @ queue.t()
    logits = torch.cat([l_pos, l_neg], dim=1) / temperature
    labels = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
    return F.cross_entropy(logits, labels), logits
