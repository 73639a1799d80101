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
        return self.forward_many([x], [lengths])[0]

    def forward_many(self, xs: list[torch.Tensor], lengths: list[torch.Tensor | None]) -> list[torch.Tensor]:
        """The representations of several batches (two augmented views, say) from one GRU call.

        Each batch is normalised by its own call of the input BatchNorm, so its statistics and
        running averages are those of separate calls; the GRU, which treats every clip alone,
        then runs once over all of them. One recurrent matrix product over N_1 + N_2 rows per
        frame is cheaper than two over N rows (docs/benchmarks.md, two-view methods).
        """
        if len({x.shape[2] for x in xs}) > 1:  # clips of different lengths: one call each
            return [self.forward_many([x], [n])[0] for x, n in zip(xs, lengths)]
        normed, valid_lengths = zip(*(self._normalised_frames(x, n) for x, n in zip(xs, lengths)))
        # one batch (every single-view call: MoCo's query and key, evaluation) needs no copy
        frames, valid_lengths = (normed[0], valid_lengths[0]) if len(xs) == 1 else (torch.cat(normed),
                                                                                   torch.cat(valid_lengths))
        t = frames.shape[1]
        if bool((valid_lengths >= t).all()):
            out, h = self.gru(frames)
            pooled = out.mean(1) if self.pooling == "mean" else None
        else:
            packed = pack_padded_sequence(frames, valid_lengths, batch_first=True, enforce_sorted=False)
            out, h = self.gru(packed)
            pooled = None
            if self.pooling == "mean":
                out, _ = pad_packed_sequence(out, batch_first=True, total_length=t)
                pooled = out.sum(1) / valid_lengths.to(out.device, out.dtype)[:, None]
        # h: (num_layers * 2, N, H); the last layer's forward and backward final states
        features = torch.cat([h[-2], h[-1]], dim=1) if pooled is None else pooled
        return list(features.split([len(x) for x in xs]))

    def _normalised_frames(self, x: torch.Tensor, lengths: torch.Tensor | None):
        """(frames (N, T, M*V*C) through the input BatchNorm, valid lengths (N,) on the CPU)."""
        n, c, t, v, m = x.shape
        frames = x.permute(0, 2, 4, 3, 1).reshape(n, t, m * v * c)
        if lengths is None or bool((lengths >= t).all()):
            return self.input_norm(frames.reshape(n * t, -1)).view(n, t, -1), torch.full((n,), t)
        lengths = lengths.clamp(1, t).cpu()
        valid = torch.arange(t)[None, :] < lengths[:, None]
        valid = valid.to(frames.device)
        # normalise valid frames only, so zero padding does not bias the statistics
        normed = frames.new_zeros(frames.shape)
        normed[valid] = self.input_norm(frames[valid]).to(normed.dtype)
        return normed, lengths
