"""The temporal 1-D ResNet: layer shapes and strides as specified, and that it can learn."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from sslskel.eval.temporal_resnet import TemporalResNet


def test_layers_kernels_widths_and_strides():
    net = TemporalResNet(in_dim=16, num_classes=7)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv1d)]
    # stem, then per block: body k7 (stride), k5, k3, shortcut k1 (stride)
    expected = [(16, 64, 7, 1)]
    for c_in, c_out, s in ((64, 64, 2), (64, 128, 2), (128, 256, 1)):
        expected += [(c_in, c_out, 7, s), (c_out, c_out, 5, 1), (c_out, c_out, 3, 1), (c_in, c_out, 1, s)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == expected
    assert sum(isinstance(m, nn.Dropout) and m.p == 0.5 for m in net.modules()) == 6
    assert (net.fc.in_features, net.fc.out_features) == (256, 7)


def test_time_shrinks_as_same_padding_does():
    net = TemporalResNet(in_dim=3, num_classes=2).eval()
    for frames in (1, 2, 7, 30, 64, 301):
        expected = math.ceil(math.ceil(frames / 2) / 2)  # strides 2, 2, 1 with "same" padding
        assert net.output_frames(frames) == expected
        assert net.features(torch.randn(2, frames, 3)).shape == (2, 256, expected)
        assert net(torch.randn(2, frames, 3)).shape == (2, 2)


def test_block_is_body_plus_shortcut_then_relu():
    block = TemporalResNet(in_dim=3, num_classes=2).blocks[1].eval()
    x = torch.randn(2, 64, 9)
    assert torch.allclose(block(x), torch.relu(block.body(x) + block.shortcut(x)))


def test_fits_a_tiny_separable_problem():
    torch.manual_seed(0)
    labels = torch.arange(24) % 3
    x = 0.3 * torch.randn(24, 20, 4)
    x[torch.arange(24), :, labels] += 1.0  # class c lights up channel c in every frame
    net = TemporalResNet(in_dim=4, num_classes=3)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(30):
        net.train()
        opt.zero_grad()
        F.cross_entropy(net(x), labels).backward()
        opt.step()
    with torch.no_grad():
        assert (net.eval()(x).argmax(1) == labels).float().mean() == 1.0
