"""The CMD / HaLP bidirectional GRU encoder, run as one call over the whole sequence.

Input (N, C, T, V, M) is flattened per frame to M*V*C features (150 on NTU), normalised by
a BatchNorm1d over the valid frames only, and fed to a multi-layer bidirectional GRU. The
representation is the last layer's final state of both directions: the forward state after
the last valid frame and the backward state after the first frame (2 * hidden features).
`pooling="mean"` (not CMD / HaLP's; an option for small datasets) averages the last layer's
outputs over the valid frames instead.

The authors' code fed the GRU one frame at a time (64 sequential calls, and a "backward"
direction that also ran forward in time); here padded frames are excluded by packing and
cuDNN / the CPU kernel run the whole sequence at once.

Example:
    >>> import torch
    >>> enc = BiGRUEncoder(hidden_size=32, num_layers=2)
    >>> enc(torch.randn(4, 3, 16, 25, 2), lengths=torch.tensor([16, 9, 16, 3])).shape
    torch.Size([4, 64])
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..data.layouts import get_layout


class BiGRUEncoder(nn.Module):
    def __init__(self, layout: str = "ntu25", in_channels: int = 3, num_persons: int = 2,
                 hidden_size: int = 1024, num_layers: int = 3, dropout: float = 0.0,
                 pooling: str = "last"):
        super().__init__()
        if pooling not in ("last", "mean"):
            raise ValueError(f"pooling: expected 'last' (CMD / HaLP) or 'mean', got {pooling!r}")
        self.pooling = pooling
        in_features = in_channels * get_layout(layout).num_joints * num_persons
        self.input_norm = nn.BatchNorm1d(in_features)
        self.gru = nn.GRU(in_features, hidden_size, num_layers, batch_first=True,
                          bidirectional=True, dropout=dropout if num_layers > 1 else 0.0)
        self.feature_dim = 2 * hidden_size
        for name, param in self.gru.named_parameters():
            if param.dim() == 2:  # as the authors: xavier for matrices, default biases
                nn.init.xavier_uniform_(param)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        n, c, t, v, m = x.shape
        frames = x.permute(0, 2, 4, 3, 1).reshape(n, t, m * v * c)
        if lengths is None or bool((lengths >= t).all()):
            frames = self.input_norm(frames.reshape(n * t, -1)).view(n, t, -1)
            out, h = self.gru(frames)
            if self.pooling == "mean":
                return out.mean(1)
        else:
            lengths = lengths.clamp(1, t).cpu()
            valid = torch.arange(t)[None, :] < lengths[:, None]
            valid = valid.to(frames.device)
            # normalise valid frames only, so zero padding does not bias the statistics
            normed = frames.new_zeros(frames.shape)
            normed[valid] = self.input_norm(frames[valid]).to(normed.dtype)
            packed = pack_padded_sequence(normed, lengths, batch_first=True, enforce_sorted=False)
            out, h = self.gru(packed)
            if self.pooling == "mean":
                out, _ = pad_packed_sequence(out, batch_first=True, total_length=t)
                return out.sum(1) / lengths.to(out.device, out.dtype)[:, None]
        # h: (num_layers * 2, N, H); the last layer's forward and backward final states
        return torch.cat([h[-2], h[-1]], dim=1)
