"""ST-GCN encoder at the size AimCLR / CrosSCLR use (16 hidden channels).

(N, C, T, V, M) -> data BatchNorm over V*C per person -> 10 st-gcn blocks with
hidden_channels x (1, 1, 1, 1, 2, 2, 2, 4, 4) and then `hidden_dim` output channels
(strides 2 at blocks 5 and 8) -> average over T and V, then over persons ->
(N, hidden_dim). With the AimCLR config (hidden_channels=16, hidden_dim=256) the channels are
16,16,16,16,32,32,32,64,64,256 and `feature_dim` is 256: in the authors' code the LAST
block outputs `hidden_dim` channels and their `fc` (hidden_dim -> 128 in pretraining,
-> classes in evaluation) is the head, which belongs to the methods here.

Each block: spatial graph conv (1x1 conv to K*C_out channels, then sum over the K=3 subsets
of the spatial partition, each multiplied elementwise by a learnable edge importance
initialised to 1) -> BN -> ReLU -> temporal conv (kernel 9, stride s) -> BN -> dropout,
plus a residual (none in block 1, identity when shapes agree, else 1x1 conv + BN), ReLU.
Dropout is not applied in block 1 (as the authors' code).

Deviations / choices (documented):
- The partition is the paper's (true hop distances to the centre joint); pass
  `authors_hop_cap=True` for the authors' code behaviour (see graph.py).
- `lengths`: the global temporal average is taken over the valid frames only (the valid
  length is carried through the stride-2 blocks as ceil(L / 2)). The authors averaged
  over every frame, padding included; pass `lengths=None` for that. Padded frames still
  reach valid outputs through the temporal convolutions' receptive field and the BN
  statistics, as in the authors' code.
- The data BatchNorm normalises V*C features shared by both persons (authors' ST-GCN);
  CTR-GCN instead normalises M*V*C.

Example:
    >>> import torch
    >>> enc = STGCN(hidden_channels=4, hidden_dim=32)
    >>> enc(torch.randn(2, 3, 16, 25, 2), lengths=torch.tensor([16, 7])).shape
    torch.Size([2, 32])
"""

from __future__ import annotations

import torch
from torch import nn

from ..data.errors import DataFormatError
from ..data.layouts import get_layout
from .graph import stgcn_spatial_partition

TEMPORAL_KERNEL = 9


def check_clip_shape(x: torch.Tensor, in_channels: int, num_joints: int, num_persons: int,
                     source: str) -> None:
    if x.dim() != 5 or x.shape[1] != in_channels or x.shape[3] != num_joints \
            or x.shape[4] != num_persons:
        raise DataFormatError(
            source, "x.shape",
            f"(N, {in_channels}, T, {num_joints}, {num_persons}) = (N, C, T, V, M)",
            str(tuple(x.shape)))


def check_lengths(lengths: torch.Tensor | None, batch: int, source: str) -> None:
    if lengths is not None and (lengths.dim() != 1 or lengths.shape[0] != batch):
        raise DataFormatError(source, "lengths.shape", f"({batch},) = one length per clip",
                              str(tuple(lengths.shape)))


def strided_lengths(lengths: torch.Tensor, num_halvings: int) -> torch.Tensor:
    """Valid frames left after `num_halvings` stride-2 convolutions: ceil(L / 2) each time."""
    for _ in range(num_halvings):
        lengths = torch.div(lengths + 1, 2, rounding_mode="floor")
    return lengths


def pool_valid_frames(x: torch.Tensor, lengths: torch.Tensor | None, num_persons: int) -> torch.Tensor:
    """(N*M, C, T, V) -> (N, C): mean over valid frames and joints, then over persons.

    `lengths` (N,) counts valid frames of `x`'s time axis (already strided); None = all.
    """
    nm, c, t, _ = x.shape
    per_frame = x.mean(dim=3)  # (N*M, C, T)
    if lengths is None:
        pooled = per_frame.mean(dim=2)
    else:
        valid_t = lengths.to(x.device).clamp(1, t).repeat_interleave(num_persons)
        mask = (torch.arange(t, device=x.device)[None, :] < valid_t[:, None]).to(x.dtype)
        pooled = (per_frame * mask[:, None, :]).sum(dim=2) / valid_t[:, None].to(x.dtype)
    return pooled.view(nm // num_persons, num_persons, c).mean(dim=1)


class SpatialGraphConv(nn.Module):
    """1x1 conv to K*C_out channels, then out[i] = sum_k sum_j A[k, i, j] * h_k[j]."""

    def __init__(self, in_channels: int, out_channels: int, num_subsets: int):
        super().__init__()
        self.num_subsets = num_subsets
        self.conv = nn.Conv2d(in_channels, out_channels * num_subsets, kernel_size=1)

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        n, _, t, v = x.shape
        h = self.conv(x).view(n, self.num_subsets, -1, t, v)
        return torch.einsum("kij,nkctj->ncti", adjacency, h)


class STGCNBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, num_subsets: int, stride: int = 1,
                 dropout: float = 0.0, residual: bool = True):
        super().__init__()
        self.gcn = SpatialGraphConv(in_channels, out_channels, num_subsets)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, (TEMPORAL_KERNEL, 1), (stride, 1),
                      ((TEMPORAL_KERNEL - 1) // 2, 0)),
            nn.BatchNorm2d(out_channels),
            nn.Dropout(dropout),
        )
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=(stride, 1)),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        y = self.tcn(self.gcn(x, adjacency))
        if self.residual is not None:
            y = y + self.residual(x)
        return torch.relu(y)


def block_plan(in_channels: int, hidden_channels: int, hidden_dim: int) -> list[tuple[int, int, int]]:
    """(in, out, stride) of the 10 blocks of the AimCLR ST-GCN."""
    widths = [hidden_channels] * 4 + [hidden_channels * 2] * 3 + [hidden_channels * 4] * 2 \
        + [hidden_dim]
    strides = [1, 1, 1, 1, 2, 1, 1, 2, 1, 1]
    inputs = [in_channels] + widths[:-1]
    return list(zip(inputs, widths, strides))


class STGCN(nn.Module):
    def __init__(self, layout: str = "ntu25", in_channels: int = 3, num_persons: int = 2,
                 hidden_channels: int = 16, hidden_dim: int = 256, dropout: float = 0.0,
                 edge_importance: bool = True, authors_hop_cap: bool = False):
        super().__init__()
        skeleton = get_layout(layout)
        self.in_channels = in_channels
        self.num_joints = skeleton.num_joints
        self.num_persons = num_persons
        adjacency = torch.from_numpy(stgcn_spatial_partition(skeleton, authors_hop_cap))
        self.register_buffer("adjacency", adjacency)
        self.data_bn = nn.BatchNorm1d(in_channels * self.num_joints)
        plan = block_plan(in_channels, hidden_channels, hidden_dim)
        self.blocks = nn.ModuleList(
            STGCNBlock(c_in, c_out, adjacency.shape[0], stride,
                       dropout=0.0 if index == 0 else dropout, residual=index > 0)
            for index, (c_in, c_out, stride) in enumerate(plan))
        self.num_halvings = sum(stride == 2 for _, _, stride in plan)
        if edge_importance:
            self.edge_importance = nn.ParameterList(
                nn.Parameter(torch.ones_like(adjacency)) for _ in self.blocks)
        else:
            self.edge_importance = None
        self.feature_dim = hidden_dim

    def normalise_input(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V, M) -> data BN over V*C per person -> (N*M, C, T, V)."""
        n, c, t, v, m = x.shape
        x = x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t)
        x = self.data_bn(x)
        return x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        check_clip_shape(x, self.in_channels, self.num_joints, self.num_persons, "STGCN input")
        check_lengths(lengths, x.shape[0], "STGCN input")
        h = self.normalise_input(x)
        for index, block in enumerate(self.blocks):
            adjacency = self.adjacency
            if self.edge_importance is not None:
                adjacency = adjacency * self.edge_importance[index]
            h = block(h, adjacency)
        if lengths is not None:
            lengths = strided_lengths(lengths, self.num_halvings)
        return pool_valid_frames(h, lengths, self.num_persons)
