"""Encoder features for a whole split, in eval mode, without gradients.

Example:
    >>> import numpy as np, torch
    >>> from sslskel.data.container import SkeletonData
    >>> from sslskel.data.transforms import CenterCrop
    >>> from sslskel.models import build_encoder
    >>> data = SkeletonData(np.random.rand(5, 3, 20, 25, 2).astype(np.float32), [20] * 5, [0, 1, 0, 1, 2], list("abcde"))
    >>> x, y = extract_features(build_encoder("gru", hidden_size=8, num_layers=1), data, CenterCrop(0.95, 16))
    >>> x.shape, y.tolist()
    ((5, 16), [0, 1, 0, 1, 2])
"""

from __future__ import annotations

import numpy as np
import torch

from .. import distributed
from ..data.batch import collate
from ..data.dataset import SkeletonDataset
from .device import autocast


@torch.no_grad()
def extract_features(encoder, data, transform, batch_size: int = 256,
                     device: torch.device | str = "cpu", amp: str = "auto",
                     num_workers: int = 0, head=None) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) float32 features and (N,) labels, in the data's order; with `head` (a classifier,
    say, also switched to eval mode), head(features) instead.

    Under torchrun every process must call it: process r encodes batches r, r + N, ... of the
    one-process batching (the same batches, so the same numbers) and the features are gathered
    back into the data's order, identical to one process's."""
    device = torch.device(device)
    was_training = encoder.training, head is not None and head.training
    encoder.eval()
    if head is not None:
        head.eval()
    dataset = SkeletonDataset(data, transform)
    n, procs, rank = len(dataset), distributed.world_size(), distributed.rank()
    mine = list(range(rank, -(-n // batch_size), procs))
    if procs > 1:  # the samples of this process's batches; the dataset keeps their indices
        dataset = torch.utils.data.Subset(dataset, [i for b in mine for i in range(b * batch_size,
                                                                                 min(n, (b + 1) * batch_size))])
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                                         pin_memory=device.type == "cuda", collate_fn=collate)
    feats, labels = [], []
    for batch in loader:
        with autocast(device, amp):
            out = encoder(batch.views[0].to(device, non_blocking=True), batch.lengths[:, 0])
            if head is not None:
                out = head(out.float())
        feats.append(out.float().cpu())
        labels.append(batch.labels)
    encoder.train(was_training[0])
    if head is not None:
        head.train(was_training[1])
    if procs == 1:
        return torch.cat(feats).numpy(), torch.cat(labels).numpy()
    gathered = distributed.all_gather_objects([(f.numpy(), y.numpy()) for f, y in zip(feats, labels)])
    in_order = [gathered[b % procs][b // procs] for b in range(-(-n // batch_size))]
    return np.concatenate([f for f, _ in in_order]), np.concatenate([y for _, y in in_order])
