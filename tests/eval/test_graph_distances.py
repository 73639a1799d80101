"""Graph-distance diagnostics (SkeletonGCL Tab. 9): sslskel.eval.graph_distances."""

import pytest
import torch

from sslskel.eval.graph_distances import graph_class_distances

torch.set_num_threads(1)


def test_graph_class_distances_equals_loop():
    g = torch.Generator().manual_seed(11)
    emb = torch.randn(12, 3, generator=g)
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 0, 1])
    preds = torch.tensor([0, 1, 0, 1, 1, 2, 1, 2, 0, 2, 0, 1])
    out = graph_class_distances(emb, labels, preds)
    centroids = {c: emb[labels == c].mean(0) for c in range(3)}
    d = lambda i, c: float(((emb[i] - centroids[c]) ** 2).sum())  # noqa: E731
    groups = {"correct": [i for i in range(12) if labels[i] == preds[i]],
              "wrong": [i for i in range(12) if labels[i] != preds[i]]}
    for name, idx in groups.items():
        assert out[f"{name}_count"] == len(idx)
        assert out[f"{name}_dist_all"] == pytest.approx(
            sum(sum(d(i, c) for c in range(3)) / 3 for i in idx) / len(idx))
        assert out[f"{name}_dist_own"] == pytest.approx(sum(d(i, int(labels[i])) for i in idx) / len(idx))
        assert out[f"{name}_dist_other"] == pytest.approx(
            sum(sum(d(i, c) for c in range(3) if c != labels[i]) / 2 for i in idx) / len(idx))
    wrong = groups["wrong"]
    assert out["wrong_dist_predicted"] == pytest.approx(sum(d(i, int(preds[i])) for i in wrong) / len(wrong))

