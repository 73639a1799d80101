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

from ..data.dataset import SkeletonDataset, make_loader
from .device import autocast


@torch.no_grad()
def extract_features(encoder, data, transform, batch_size: int = 256,
                     device: torch.device | str = "cpu", amp: str = "auto",
                     num_workers: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) float32 features and (N,) labels, in the data's order."""
    device = torch.device(device)
    was_training = encoder.training
    encoder.eval()
    loader = make_loader(SkeletonDataset(data, transform), batch_size, shuffle=False,
                         num_workers=num_workers, device=device)
    feats, labels = [], []
    for batch in loader:
        with autocast(device, amp):
            out = encoder(batch.views[0].to(device), batch.lengths[:, 0])
        feats.append(out.float().cpu())
        labels.append(batch.labels)
    encoder.train(was_training)
    return torch.cat(feats).numpy(), torch.cat(labels).numpy()
