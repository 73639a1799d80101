import pytest
import torch

from sslskel.data.errors import DataFormatError
from sslskel.data.layouts import NTU25
from sslskel.models import build_encoder
from sslskel.models.graph import stgcn_spatial_partition
from sslskel.models.stgcn import STGCN, SpatialGraphConv, block_plan, pool_valid_frames, strided_lengths

torch.set_num_threads(1)


def small(**kwargs):
    torch.manual_seed(0)
    return STGCN(**{"hidden_channels": 4, "hidden_dim": 16, **kwargs})


@pytest.mark.parametrize("layout,joints", [("ntu25", 25), ("ucla20", 20)])
@pytest.mark.parametrize("persons", [1, 2])
def test_output_shape(layout, joints, persons):
    enc = small(layout=layout, num_persons=persons)
    out = enc(torch.randn(2, 3, 12, joints, persons))
    assert out.shape == (2, enc.feature_dim) == (2, 16)


def test_aimclr_size_channels_and_feature_dim():
    plan = block_plan(3, 16, 256)
    assert [c_out for _, c_out, _ in plan] == [16, 16, 16, 16, 32, 32, 32, 64, 64, 256]
    assert [s for _, _, s in plan] == [1, 1, 1, 1, 2, 1, 1, 2, 1, 1]
    enc = build_encoder("stgcn")
    assert enc.feature_dim == 256
    assert 0.7e6 < sum(p.numel() for p in enc.parameters()) < 0.9e6
    assert len(enc.edge_importance) == 10


def test_spatial_graph_conv_matches_loop_reference():
    torch.manual_seed(1)
    gcn = SpatialGraphConv(3, 5, num_subsets=3)
    adjacency = torch.from_numpy(stgcn_spatial_partition(NTU25)) * torch.rand(3, 25, 25)
    x = torch.randn(2, 3, 4, 25)
    h = gcn.conv(x).view(2, 3, 5, 4, 25)
    expected = torch.zeros(2, 5, 4, 25)
    for k in range(3):
        for i in range(25):
            expected[..., i] += (adjacency[k, i] * h[:, k]).sum(dim=-1)
    torch.testing.assert_close(gcn(x, adjacency), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("frames", [5, 8, 9, 16, 50])
def test_strided_lengths_match_the_network_time_axis(frames):
    enc = small().eval()
    h = enc.normalise_input(torch.randn(1, 3, frames, 25, 2))
    for block in enc.blocks:
        h = block(h, enc.adjacency)
    assert h.shape[2] == int(strided_lengths(torch.tensor([frames]), enc.num_halvings))


def test_pool_valid_frames_matches_loop_reference():
    torch.manual_seed(2)
    x = torch.randn(3 * 2, 4, 6, 5)
    lengths = torch.tensor([6, 2, 4])
    expected = torch.zeros(3, 4)
    for n in range(3):
        for m in range(2):
            expected[n] += x[n * 2 + m, :, :lengths[n], :].mean(dim=(1, 2)) / 2
    torch.testing.assert_close(pool_valid_frames(x, lengths, 2), expected)
    torch.testing.assert_close(pool_valid_frames(x, None, 2), x.mean(dim=(2, 3)).view(3, 2, 4).mean(1))


def test_full_lengths_equal_no_lengths():
    enc = small().eval()
    x = torch.randn(2, 3, 12, 25, 2)
    torch.testing.assert_close(enc(x, torch.tensor([12, 12])), enc(x))


def test_lengths_change_the_pooling():
    enc = small().eval()
    x = torch.randn(2, 3, 16, 25, 2)
    assert not torch.allclose(enc(x, torch.tensor([16, 4])), enc(x))


def test_gradients_reach_every_parameter():
    # eval mode: in training mode a conv bias right before a BatchNorm has an exactly zero
    # gradient (the batch mean cancels it)
    enc = small().eval()
    enc(torch.randn(2, 3, 12, 25, 2), torch.tensor([12, 7])).square().sum().backward()
    for name, param in enc.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_eval_is_deterministic_and_batch_independent():
    enc = small(dropout=0.5).eval()
    x = torch.randn(2, 3, 12, 25, 2)
    out = enc(x)
    torch.testing.assert_close(enc(x), out)
    torch.testing.assert_close(enc(x[1:]), out[1:])


def test_without_edge_importance_has_no_importance_parameters():
    with_importance = sum(p.numel() for p in small().parameters())
    without = sum(p.numel() for p in small(edge_importance=False).parameters())
    assert with_importance - without == 10 * 3 * 25 * 25


def test_wrong_input_shape_raises():
    with pytest.raises(DataFormatError, match="STGCN input: x.shape"):
        small()(torch.randn(2, 3, 12, 20, 2))
    with pytest.raises(DataFormatError, match="lengths.shape"):
        small()(torch.randn(2, 3, 12, 25, 2), torch.tensor([12]))
