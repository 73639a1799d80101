"""Tests for sslskel.methods.gcl.heads: the graph head against a loop over persons and channels."""

import pytest
import torch
import torch.nn.functional as F

from sslskel.data.errors import DataFormatError
from sslskel.methods.gcl import FeatureProjectionHead, GraphProjectionHead, average_graphs

torch.set_num_threads(1)


def test_graph_head_averages_persons_and_channels_like_a_loop():
    n, m, k, c, v = 3, 2, 3, 4, 5
    graphs = torch.randn(n * m, k, c, v, v)
    head = GraphProjectionHead(num_joints=v, num_subsets=k, dim=7)
    flat = head.flatten_graphs(graphs, num_persons=m)
    for i in range(n):
        expected = torch.zeros(k, v, v)
        for p in range(m):
            for ch in range(c):
                expected += graphs[i * m + p, :, ch] / (m * c)
        assert torch.allclose(flat[i], expected.reshape(-1), atol=1e-6)
    assert torch.equal(flat, average_graphs(graphs, m))
    out = head(graphs, num_persons=m)
    assert out.shape == (n, 7)
    assert torch.allclose(out.norm(dim=1), torch.ones(n), atol=1e-6)
    assert torch.allclose(out, F.normalize(head.fc(flat), dim=1), atol=1e-6)


def test_graph_head_ntu_size_and_bad_input():
    head = GraphProjectionHead()
    assert head.fc.in_features == 1875 and head.fc.out_features == 256
    with pytest.raises(DataFormatError, match="graphs"):
        head(torch.randn(4, 3, 8, 24, 25), num_persons=2)
    with pytest.raises(DataFormatError, match="num_persons"):
        head(torch.randn(5, 3, 8, 25, 25), num_persons=2)


def test_feature_head():
    head = FeatureProjectionHead(in_dim=10, dim=6)
    features = torch.randn(4, 10)
    out = head(features)
    assert out.shape == (4, 6)
    assert torch.allclose(out.norm(dim=1), torch.ones(4), atol=1e-6)
    expected = torch.stack([(head.fc.weight @ f + head.fc.bias) / (head.fc.weight @ f + head.fc.bias).norm()
                            for f in features])
    assert torch.allclose(out, expected, atol=1e-6)
    with pytest.raises(DataFormatError, match="features"):
        head(torch.randn(4, 9))
