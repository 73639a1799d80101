import pytest
import torch
from torch import nn

from sslskel.data.errors import DataFormatError
from sslskel.data.layouts import NTU25
from sslskel.models import build_encoder
from sslskel.models.ctrgcn import CTRGCN, ChannelTopologyRefinement, CTRGraphConv, MultiScaleTemporalConv
from sslskel.models.graph import ctrgcn_subsets

torch.set_num_threads(1)


def small(**kwargs):
    torch.manual_seed(0)
    return CTRGCN(**{"base_channels": 8, **kwargs})


@pytest.mark.parametrize("layout,joints", [("ntu25", 25), ("ucla20", 20)])
@pytest.mark.parametrize("persons", [1, 2])
def test_output_and_graph_shapes(layout, joints, persons):
    enc = small(layout=layout, num_persons=persons)
    x = torch.randn(2, 3, 8, joints, persons)
    features, graphs = enc(x, return_graphs=True)
    assert features.shape == (2, enc.feature_dim) == (2, 32)
    assert graphs.shape == (2 * persons, 3, 32, joints, joints)
    assert enc(x).shape == (2, 32)


def test_parameter_count_and_feature_dim_at_paper_size():
    enc = build_encoder("ctrgcn")
    assert enc.feature_dim == 256
    encoder_params = sum(p.numel() for p in enc.parameters())
    with_fc = encoder_params + nn.Linear(256, 60).weight.numel() + 60
    assert 1.38e6 < encoder_params < 1.44e6
    assert 1.43e6 < with_fc < 1.47e6  # CTR-GCN reports ~1.46M


def test_refinement_matches_loop_reference():
    torch.manual_seed(1)
    ctr = ChannelTopologyRefinement(16, 6)
    x = torch.randn(2, 16, 5, 7)
    shared = torch.rand(7, 7)
    alpha = torch.tensor([0.3])
    out, refinement = ctr(x, shared, alpha)
    x1, x2, x3 = ctr.conv1(x).mean(2), ctr.conv2(x).mean(2), ctr.conv3(x)
    assert x1.shape[1] == 2  # 16 / 8 relation channels
    w4, b4 = ctr.conv4.weight[:, :, 0, 0], ctr.conv4.bias
    expected_refinement = torch.zeros(2, 6, 7, 7)
    expected_out = torch.zeros(2, 6, 5, 7)
    for i in range(7):
        for j in range(7):
            relation = torch.tanh(x1[:, :, i] - x2[:, :, j])  # (N, R)
            expected_refinement[:, :, i, j] = relation @ w4.T + b4
    graph = alpha * expected_refinement + shared
    for i in range(7):
        for j in range(7):
            expected_out[..., i] += graph[:, :, i, j, None] * x3[..., j]
    torch.testing.assert_close(refinement, expected_refinement, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out, expected_out, rtol=1e-5, atol=1e-5)


def test_relation_channels_for_raw_input():
    assert ChannelTopologyRefinement(3, 64).conv1.out_channels == 8


def test_graphs_do_not_depend_on_alpha_but_features_do():
    enc = small().eval()
    x = torch.randn(2, 3, 8, 25, 2)
    features, graphs = enc(x, return_graphs=True)
    with torch.no_grad():
        enc.units[-1].gcn.alpha.fill_(0.7)
    features_alpha, graphs_alpha = enc(x, return_graphs=True)
    torch.testing.assert_close(graphs_alpha, graphs)
    assert not torch.allclose(features_alpha, features)


def test_initialisation_as_the_authors():
    enc = small()
    subsets = torch.from_numpy(ctrgcn_subsets(NTU25))
    for unit in enc.units:
        assert unit.gcn.alpha.item() == 0.0
        torch.testing.assert_close(unit.gcn.shared_topology.detach(), subsets)
        assert torch.all(unit.gcn.bn.weight == 1e-6)
        assert torch.all(unit.gcn.subsets[0].conv3.bias == 0)
    tcn_bn_weights = torch.cat([m.weight for m in enc.units[0].tcn.modules()
                                if isinstance(m, nn.BatchNorm2d)]).detach()
    assert not torch.all(tcn_bn_weights == 1) and torch.allclose(tcn_bn_weights, torch.ones(1),
                                                                 atol=0.15)


def test_kaiming_fan_out_init_scale():
    torch.manual_seed(3)
    conv = CTRGraphConv(64, 256, torch.eye(25)[None].repeat(3, 1, 1)).subsets[0].conv3
    expected_std = (2.0 / 256) ** 0.5  # fan_out = out_channels * 1 * 1
    assert abs(conv.weight.std().item() - expected_std) / expected_std < 0.05


def test_temporal_branches_and_stride():
    tcn = MultiScaleTemporalConv(8, stride=2)
    assert len(tcn.branches) == 4
    assert tcn(torch.randn(2, 8, 9, 25)).shape == (2, 8, 5, 25)
    with pytest.raises(ValueError):
        MultiScaleTemporalConv(6)


def test_gradients_reach_every_parameter():
    # eval mode: in training mode a conv bias right before a BatchNorm has an exactly zero
    # gradient (the batch mean cancels it)
    enc = small().eval()
    with torch.no_grad():  # alpha starts at 0, which would block the refinement convs
        for unit in enc.units:
            unit.gcn.alpha.fill_(0.5)
    enc(torch.randn(2, 3, 8, 25, 2), torch.tensor([8, 5])).square().sum().backward()
    for name, param in enc.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_non_adaptive_topology_is_fixed():
    enc = small(adaptive=False)
    names = {name for name, _ in enc.named_parameters()}
    assert not any("shared_topology" in name for name in names)
    assert "units.0.gcn.shared_topology" in dict(enc.named_buffers())


def test_eval_is_deterministic_and_batch_independent():
    enc = small(dropout=0.5).eval()
    x = torch.randn(2, 3, 8, 25, 2)
    out = enc(x, torch.tensor([8, 6]))
    torch.testing.assert_close(enc(x, torch.tensor([8, 6])), out)
    torch.testing.assert_close(enc(x[1:], torch.tensor([6])), out[1:])


def test_lengths_mask_the_pooling():
    enc = small().eval()
    x = torch.randn(2, 3, 8, 25, 2)
    torch.testing.assert_close(enc(x, torch.tensor([8, 8])), enc(x))
    assert not torch.allclose(enc(x, torch.tensor([8, 3])), enc(x))


def test_wrong_input_shape_raises():
    with pytest.raises(DataFormatError, match="CTRGCN input"):
        small()(torch.randn(2, 2, 8, 25, 2))
    with pytest.raises(DataFormatError, match="lengths.shape"):
        small()(torch.randn(2, 3, 8, 25, 2), torch.tensor([[8, 8]]))
    with pytest.raises(ValueError):
        CTRGCN(num_subsets=2)
