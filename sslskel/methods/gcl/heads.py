"""SkeletonGCL projection heads: what the encoder produced -> (N, dim) unit vectors.

`GraphProjectionHead` is the paper's graph embedding (Sec. 3.2, App. 6.1): the refinement
graphs (N*M, K=3, C, V, V) of the encoder's last unit are averaged over persons and channels,
flattened to K*V*V values (1875 on NTU), mapped by one FC to C_g = 256 and L2-normalised.
`FeatureProjectionHead` does the same for encoder features (the "feature contrast" ablation,
Tab. 4). The FC has PyTorch's default init (the paper does not give one).

Example:
    >>> import torch
    >>> head = GraphProjectionHead(num_joints=5, num_subsets=3, dim=4)
    >>> graphs = torch.randn(2 * 2, 3, 8, 5, 5)   # N=2 samples, M=2 persons
    >>> average_graphs(graphs, num_persons=2).shape, head(graphs, num_persons=2).shape
    (torch.Size([2, 75]), torch.Size([2, 4]))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...data.errors import DataFormatError


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
