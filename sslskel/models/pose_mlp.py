"""CV-MIM's per-frame pose encoder: a residual MLP over one frame of the main actor.

Per frame, the main actor's (person 0) joints are flattened joint-major (V * C inputs, the
other persons are ignored, as the authors' single-person setting) and fed to
    Dense hidden -> BN -> ReLU -> Dropout
    num_blocks x [ x + 2 x (Dense hidden -> BN -> ReLU -> Dropout) ]
    Dense out_dim (linear)
which is the authors' `SimpleModel` (poem/cv_mim/models.py: hidden 1024, 2 residual blocks of
2 layers, dropout 0.25, output 64 = z_p (first 32) and z_v (last 32)).

`frame_embeddings(x, lengths)` gives the per-frame outputs (N, T, out_dim), with frames at or
past `lengths[i]` zero; only the valid frames are gathered and run through the MLP, so
padding never reaches the BatchNorm statistics. `forward(x, lengths)` is their mean over the
valid frames (N, out_dim), so linear and kNN evaluation treat it like a sequence encoder.

Choices (not the authors'): the BatchNorms use PyTorch's defaults (momentum 0.1, eps 1e-5;
Keras: 0.01 and 1e-3); weights are He-normal as the authors' `he_normal`, but untruncated,
and biases start at zero (the authors draw them He-normal too). Lengths are clamped to
[1, T] as the GRU encoder does, so an empty clip embeds its first (all-zero) frame.

Example:
    >>> import torch
    >>> enc = PoseMLP(hidden=32, out_dim=8)
    >>> x = torch.randn(2, 3, 10, 25, 2)
    >>> enc.frame_embeddings(x, torch.tensor([10, 4])).shape, enc(x).shape
    (torch.Size([2, 10, 8]), torch.Size([2, 8]))
    >>> bool((enc.frame_embeddings(x, torch.tensor([10, 4]))[1, 4:] == 0).all())
    True
"""

from __future__ import annotations

import torch
from torch import nn

from ..data.layouts import get_layout
from .stgcn import check_clip_shape, check_lengths


def dense_layer(in_features: int, out_features: int, dropout: float) -> nn.Sequential:
    """Dense -> BN -> ReLU -> Dropout (the authors' `build_linear_layers`, one layer)."""
    return nn.Sequential(nn.Linear(in_features, out_features), nn.BatchNorm1d(out_features),
                         nn.ReLU(inplace=True), nn.Dropout(dropout))


class ResidualBlock(nn.Module):
    """x + layers(x), `num_layers` dense layers of width `width`."""

    def __init__(self, width: int, num_layers: int, dropout: float):
        super().__init__()
        self.layers = nn.Sequential(*[dense_layer(width, width, dropout) for _ in range(num_layers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x) + x


class PoseMLP(nn.Module):
    per_frame = True  # the method may use frame_embeddings (per-frame z_p) instead of forward

    def __init__(self, layout: str = "ntu25", in_channels: int = 3, num_persons: int = 2,
                 hidden: int = 1024, num_blocks: int = 2, dropout: float = 0.25, out_dim: int = 64,
                 layers_per_block: int = 2):
        super().__init__()
        self.hidden, self.num_blocks, self.dropout, self.layers_per_block = hidden, num_blocks, dropout, layers_per_block
        self.in_channels, self.num_persons = in_channels, num_persons
        self.num_joints = get_layout(layout).num_joints
        self.feature_dim = out_dim
        self.stem = dense_layer(in_channels * self.num_joints, hidden, dropout)
        self.blocks = nn.Sequential(*[ResidualBlock(hidden, layers_per_block, dropout)
                                      for _ in range(num_blocks)])
        self.head = nn.Linear(hidden, out_dim)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def mlp(self, frames: torch.Tensor) -> torch.Tensor:
        """(F, V * C) flattened frames -> (F, out_dim)."""
        return self.head(self.blocks(self.stem(frames)))

    def mlp_with_first_hidden(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(outputs (F, out_dim), the first hidden layer's activations (F, hidden)): CV-MIM's
        critic starts from the first hidden layer, as the authors' subencoder reads `fc0`."""
        first = self.stem(frames)
        return self.head(self.blocks(first)), first

    def flatten_frames(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V, M) -> (N, T, V * C): the main actor's frames, joint-major."""
        check_clip_shape(x, self.in_channels, self.num_joints, self.num_persons, "pose_mlp input")
        n, c, t, v, _ = x.shape
        return x[..., 0].permute(0, 2, 3, 1).reshape(n, t, v * c)

    def valid_frames(self, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """(N, T) bool: frame t of clip i is valid when t < lengths[i] (clamped to [1, T])."""
        n, t = x.shape[0], x.shape[2]
        if lengths is None:
            return torch.ones(n, t, dtype=torch.bool, device=x.device)
        lengths = lengths.to(x.device).clamp(1, t)
        return torch.arange(t, device=x.device)[None, :] < lengths[:, None]

    def frame_embeddings(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(N, C, T, V, M) -> (N, T, out_dim); frames at or past `lengths` are zero."""
        check_lengths(lengths, x.shape[0], "pose_mlp input")
        frames = self.flatten_frames(x)
        n, t = frames.shape[:2]
        valid = self.valid_frames(x, lengths)
        # gather the valid frames so padding affects neither the outputs nor the BN statistics
        embedded = self.mlp(frames[valid])
        out = embedded.new_zeros(n, t, self.feature_dim)
        out[valid] = embedded
        return out

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(N, C, T, V, M) -> (N, out_dim): the mean of the valid frames' embeddings."""
        valid = self.valid_frames(x, lengths)
        frames = self.frame_embeddings(x, lengths)
        return frames.sum(1) / valid.sum(1, keepdim=True).to(frames.dtype)
