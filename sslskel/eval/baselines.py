"""No-learning floors: what raw coordinates reach without any encoder.

A learned representation means something only well above these. Each clip's valid frames
are resampled to `frames` frames (linear, as the encoders' input) and flattened; then
- `nearest_neighbour_floor`: cosine 1-NN from test to train clips (template matching);
- `logistic_floor`: multinomial logistic regression on standardised clips, fitted full
  batch with L-BFGS (a linear probe on the identity "encoder").

Example:
    >>> import numpy as np
    >>> from sslskel.data.container import SkeletonData
    >>> x = np.zeros((4, 3, 10, 20, 1), np.float32); x[:2, 0] = 1; x[2:, 1] = 1
    >>> d = SkeletonData(x, [10, 8, 10, 9], [0, 0, 1, 1], list("abcd"), layout="msr20")
    >>> f = raw_clip_features(d, frames=5)
    >>> f.shape, nearest_neighbour_floor(f, d.labels, f, d.labels)
    ((4, 300), 100.0)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..common.knn import knn_accuracy
from ..data.transforms import resize_time


def raw_clip_features(data, frames: int = 50) -> np.ndarray:
    """(N, C * frames * V * M) float32: every clip's valid frames resampled and flattened."""
    out = np.empty((len(data), int(np.prod(data.shape)) // data.shape[1] * frames), np.float32)
    for i in range(len(data)):
        x = data.sample(i)[:, : int(data.num_frames[i])]
        out[i] = resize_time(x, frames).reshape(-1)
    return out


def nearest_neighbour_floor(train_x, train_y, test_x, test_y) -> float:
    """Top-1 % of cosine 1-NN."""
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    return knn_accuracy(train_x, train_y, test_x, test_y, k=1, num_classes=num_classes)["top1"]


def fit_logistic(xtr: torch.Tensor, ytr: torch.Tensor, num_classes: int, weight_decay: float = 1e-3,
                 max_iter: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of L2-regularised multinomial logistic regression on (standardised,
    fp64) features, fitted full batch with L-BFGS (strong-Wolfe line search) from zeros."""
    weight = torch.zeros(xtr.shape[1], num_classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(xtr @ weight + bias, ytr) + weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():  # callers may sit under no_grad
        optimizer.step(closure)
    return weight.detach(), bias.detach()


def logistic_floor(train_x, train_y, test_x, test_y, weight_decay: float = 1e-3,
                   max_iter: int = 500, seed: int = 0) -> float:
    """Top-1 % of L2-regularised multinomial logistic regression on standardised features."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    xtr = torch.from_numpy((train_x - mean) / std).double()
    xte = torch.from_numpy((test_x - mean) / std).double()
    ytr = torch.from_numpy(np.asarray(train_y)).long()
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    torch.manual_seed(seed)
    weight, bias = fit_logistic(xtr, ytr, num_classes, weight_decay, max_iter)
    with torch.no_grad():
        predicted = (xte @ weight + bias).argmax(1).numpy()
    return float(100.0 * (predicted == np.asarray(test_y)).mean())
