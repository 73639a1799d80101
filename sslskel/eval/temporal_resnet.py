"""The temporal 1-D ResNet that CV-MIM's single-shot protocol trains on per-frame embeddings.

As the authors' classifier (poem/cv_mim/action_recognition/models.py, `RESNET`, after Fawaz
et al. 2019): a stem Conv1d k7 x 64 + BN + ReLU, then three residual blocks of widths
64 / 128 / 256 with strides 2 / 2 / 1. A block is Conv k7 (the block's stride) - BN - ReLU -
Dropout, Conv k5 - BN - ReLU - Dropout, Conv k3 - BN, plus a shortcut Conv k1 (same stride) -
BN, added and passed through ReLU. Then global average pooling over time and a Linear layer
to the classes. Padding k // 2 is TensorFlow's "same": a stride-2 layer maps T frames to
ceil(T / 2). Convolutions followed by BN have no bias (BN's shift replaces it); weights are
He-normal as in the code.

Input (N, T, D): a sequence of T per-frame D-dimensional embeddings (not channels first).

Example:
    >>> import torch
    >>> net = TemporalResNet(in_dim=32, num_classes=5)
    >>> net(torch.randn(4, 30, 32)).shape
    torch.Size([4, 5])
    >>> net.output_frames(30)  # 30 -> 15 -> 8 -> 8
    8
"""

from __future__ import annotations

import torch
from torch import nn

WIDTHS = (64, 128, 256)
STRIDES = (2, 2, 1)
KERNELS = (7, 5, 3)


def conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv1d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm1d(out_ch)]


class ResidualBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int, dropout: float):
        super().__init__()
        (k1, k2, k3) = KERNELS
        self.body = nn.Sequential(
            *conv_bn(in_ch, out_ch, k1, stride), nn.ReLU(inplace=True), nn.Dropout(dropout),
            *conv_bn(out_ch, out_ch, k2), nn.ReLU(inplace=True), nn.Dropout(dropout),
            *conv_bn(out_ch, out_ch, k3))
        self.shortcut = nn.Sequential(*conv_bn(in_ch, out_ch, 1, stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class TemporalResNet(nn.Module):
    def __init__(self, in_dim: int, num_classes: int, widths=WIDTHS, strides=STRIDES, dropout: float = 0.5):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(in_dim, widths[0], 7), nn.ReLU(inplace=True))
        blocks, width = [], widths[0]
        for out_ch, stride in zip(widths, strides):
            blocks.append(ResidualBlock(width, out_ch, stride, dropout))
            width = out_ch
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(width, num_classes)
        self.strides = tuple(strides)
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def output_frames(self, frames: int) -> int:
        """Frames left after the strided blocks (each stride s: ceil(T / s))."""
        for s in self.strides:
            frames = -(-frames // s)
        return frames

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, T, D) -> (N, widths[-1], output_frames(T)), before pooling."""
        return self.blocks(self.stem(x.transpose(1, 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=2))
