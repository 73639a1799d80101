"""CTR-GCN encoder (channel-wise topology refinement GCN), as used by SkeletonGCL.

(N, C, T, V, M) -> data BatchNorm over M*V*C -> 10 units with 64 (l1-l4), 128 (l5-l7,
stride 2 at l5) and 256 (l8-l10, stride 2 at l8) channels -> mean over T and V, then over
persons -> dropout -> (N, 4 * base_channels) = (N, 256).

Unit = CTR graph conv + multi-scale temporal conv, y = ReLU(TCN(GCN(x)) + residual(x))
(l1 has no unit residual). CTR graph conv, per subset k of the 3 graph subsets:
    x1, x2 = mean_T(conv1 x), mean_T(conv2 x)                 (rel channels: C_in/8, 8 if C_in=3)
    R_k    = conv4(tanh(x1[..., :, None] - x2[..., None, :])) (N*M, C_out, V, V) refinement
    G_k    = alpha * R_k + A_k                                 A_k shared, learnable, from graph
    out   += einsum("ncij,nctj->ncti", G_k, conv3 x)
then BN (weight initialised to 1e-6 as the authors) + residual (1x1 conv + BN if the
channels change) + ReLU. alpha is one learnable scalar per unit, initialised to 0 (authors).
Multi-scale TCN: 4 branches of out/4 channels: 1x1 conv-BN-ReLU then a kernel-5 temporal
conv with dilation 1 or 2 (+BN); 1x1 conv-BN-ReLU-maxpool(3x1)-BN; 1x1 conv (strided)-BN.

Weight init as the authors' code: kaiming normal (fan_out) for convolutions with zero
bias; BN weight 1, bias 0, except BNs inside the multi-scale TCN (weight ~ N(1, 0.02)) and
the graph conv's output BN (weight 1e-6).

`forward(x, lengths=None, return_graphs=False)`; with return_graphs it also returns the
last unit's refinement graphs R_k (before alpha and before adding A_k) stacked over the
subsets: (N*M, 3, C, V, V). `lengths`: the final temporal average covers the valid frames
only (ceil(L/2) after each stride-2 unit); the authors averaged over all frames (pass
lengths=None for that). Padded frames still reach valid outputs through the receptive
field, the BN statistics and the graphs' temporal means, as in the authors' code.

Example:
    >>> import torch
    >>> enc = CTRGCN(base_channels=8)
    >>> feats, graphs = enc(torch.randn(2, 3, 8, 25, 2), return_graphs=True)
    >>> feats.shape, graphs.shape
    (torch.Size([2, 32]), torch.Size([4, 3, 32, 25, 25]))
"""

from __future__ import annotations

import torch
from torch import nn

from ..data.layouts import get_layout
from .graph import ctrgcn_subsets
from .stgcn import check_clip_shape, check_lengths, pool_valid_frames, strided_lengths

TEMPORAL_KERNEL = 5
DILATIONS = (1, 2)


def init_conv(conv: nn.Conv2d) -> None:
    nn.init.kaiming_normal_(conv.weight, mode="fan_out")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


def init_bn(bn: nn.modules.batchnorm._BatchNorm, scale: float) -> None:
    nn.init.constant_(bn.weight, scale)
    nn.init.zeros_(bn.bias)


def conv_bn(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """1x1 conv (temporal stride) + BN: the projection used by residual paths."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=(stride, 1)),
                         nn.BatchNorm2d(out_channels))


class ChannelTopologyRefinement(nn.Module):
    """One subset of the CTR graph conv: returns (output, refinement graph before alpha)."""

    def __init__(self, in_channels: int, out_channels: int, rel_reduction: int = 8):
        super().__init__()
        rel_channels = 8 if in_channels in (3, 9) else in_channels // rel_reduction
        self.conv1 = nn.Conv2d(in_channels, rel_channels, 1)
        self.conv2 = nn.Conv2d(in_channels, rel_channels, 1)
        self.conv3 = nn.Conv2d(in_channels, out_channels, 1)
        self.conv4 = nn.Conv2d(rel_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, shared: torch.Tensor, alpha: torch.Tensor):
        x1 = self.conv1(x).mean(dim=2)  # (N, R, V)
        x2 = self.conv2(x).mean(dim=2)
        refinement = self.conv4(torch.tanh(x1[..., :, None] - x2[..., None, :]))  # (N, C, V, V)
        graph = refinement * alpha + shared
        return torch.einsum("ncij,nctj->ncti", graph, self.conv3(x)), refinement


class CTRGraphConv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, subsets: torch.Tensor,
                 adaptive: bool = True):
        super().__init__()
        self.subsets = nn.ModuleList(
            ChannelTopologyRefinement(in_channels, out_channels) for _ in range(subsets.shape[0]))
        if adaptive:
            self.shared_topology = nn.Parameter(subsets.clone())
        else:
            self.register_buffer("shared_topology", subsets.clone())
        self.alpha = nn.Parameter(torch.zeros(1))
        self.bn = nn.BatchNorm2d(out_channels)
        self.down = conv_bn(in_channels, out_channels) if in_channels != out_channels else None
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                init_conv(module)
            elif isinstance(module, nn.BatchNorm2d):
                init_bn(module, 1.0)
        # the output BN starts almost closed, as the authors' code
        init_bn(self.bn, 1e-6)

    def forward(self, x: torch.Tensor):
        outputs, refinements = zip(*(
            subset(x, self.shared_topology[k], self.alpha) for k, subset in enumerate(self.subsets)))
        y = self.bn(torch.stack(outputs).sum(dim=0))
        y = y + (x if self.down is None else self.down(x))
        return torch.relu(y), torch.stack(refinements, dim=1)


def init_tcn_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Conv2d):
        init_conv(module)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class MultiScaleTemporalConv(nn.Module):
    def __init__(self, channels: int, stride: int = 1):
        super().__init__()
        num_branches = len(DILATIONS) + 2
        if channels % num_branches:
            raise ValueError(f"channels {channels} must be a multiple of {num_branches} branches")
        width = channels // num_branches

        def squeeze() -> list[nn.Module]:
            return [nn.Conv2d(channels, width, 1), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]

        branches = [
            nn.Sequential(*squeeze(), nn.Conv2d(
                width, width, (TEMPORAL_KERNEL, 1), stride=(stride, 1),
                padding=(dilation * (TEMPORAL_KERNEL - 1) // 2, 0), dilation=(dilation, 1)),
                nn.BatchNorm2d(width))
            for dilation in DILATIONS
        ]
        branches.append(nn.Sequential(
            *squeeze(), nn.MaxPool2d((3, 1), stride=(stride, 1), padding=(1, 0)),
            nn.BatchNorm2d(width)))
        branches.append(conv_bn(channels, width, stride))
        self.branches = nn.ModuleList(branches)
        self.apply(init_tcn_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class CTRGCNUnit(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, subsets: torch.Tensor, stride: int = 1,
                 residual: bool = True, adaptive: bool = True):
        super().__init__()
        self.gcn = CTRGraphConv(in_channels, out_channels, subsets, adaptive)
        self.tcn = MultiScaleTemporalConv(out_channels, stride)
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = conv_bn(in_channels, out_channels, stride)
            init_conv(self.residual[0])
            init_bn(self.residual[1], 1.0)

    def forward(self, x: torch.Tensor):
        h, refinements = self.gcn(x)
        y = self.tcn(h)
        if self.residual is not None:
            y = y + self.residual(x)
        return torch.relu(y), refinements


class CTRGCN(nn.Module):
    def __init__(self, layout: str = "ntu25", in_channels: int = 3, num_persons: int = 2,
                 base_channels: int = 64, num_subsets: int = 3, dropout: float = 0.0,
                 adaptive: bool = True):
        super().__init__()
        if base_channels < 8:  # the relation convs get base_channels // 8 channels
            raise ValueError(f"CTRGCN base_channels={base_channels}: expected at least 8")
        skeleton = get_layout(layout)
        subsets = torch.from_numpy(ctrgcn_subsets(skeleton))
        if num_subsets != subsets.shape[0]:
            raise ValueError(f"num_subsets={num_subsets}: the CTR-GCN graph has "
                             f"{subsets.shape[0]} subsets (I, inward, outward)")
        self.in_channels = in_channels
        self.num_joints = skeleton.num_joints
        self.num_persons = num_persons
        self.data_bn = nn.BatchNorm1d(num_persons * in_channels * self.num_joints)
        init_bn(self.data_bn, 1.0)
        widths = [base_channels] * 4 + [base_channels * 2] * 3 + [base_channels * 4] * 3
        strides = [1, 1, 1, 1, 2, 1, 1, 2, 1, 1]
        inputs = [in_channels] + widths[:-1]
        self.units = nn.ModuleList(
            CTRGCNUnit(c_in, c_out, subsets, stride, residual=index > 0, adaptive=adaptive)
            for index, (c_in, c_out, stride) in enumerate(zip(inputs, widths, strides)))
        self.num_halvings = strides.count(2)
        self.dropout = nn.Dropout(dropout)
        self.feature_dim = widths[-1]

    def normalise_input(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V, M) -> data BN over M*V*C -> (N*M, C, T, V)."""
        n, c, t, v, m = x.shape
        x = self.data_bn(x.permute(0, 4, 3, 1, 2).reshape(n, m * v * c, t))
        return x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None,
                return_graphs: bool = False):
        check_clip_shape(x, self.in_channels, self.num_joints, self.num_persons, "CTRGCN input")
        check_lengths(lengths, x.shape[0], "CTRGCN input")
        h = self.normalise_input(x)
        for unit in self.units:
            h, refinements = unit(h)
        if lengths is not None:
            lengths = strided_lengths(lengths, self.num_halvings)
        features = self.dropout(pool_valid_frames(h, lengths, self.num_persons))
        return (features, refinements) if return_graphs else features
