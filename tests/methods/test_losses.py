import math

import pytest
import torch
import torch.nn.functional as F

from sslskel.methods.losses import info_nce


def reference_info_nce(q, k, queue, t):
    total = 0.0
    for i in range(q.shape[0]):
        pos = math.exp(float(q[i] @ k[i]) / t)
        negs = sum(math.exp(float(q[i] @ n) / t) for n in queue)
        total += -math.log(pos / (pos + negs))
    return total / q.shape[0]


@pytest.mark.parametrize("batch, queue_size, dim, t", [(1, 1, 2, 1.0), (4, 16, 8, 0.07), (7, 3, 5, 0.5)])
def test_info_nce_matches_loop_reference(batch, queue_size, dim, t):
    g = torch.Generator().manual_seed(batch)
    q, k, queue = (F.normalize(torch.randn(n, dim, generator=g, dtype=torch.float64), dim=1)
                   for n in (batch, batch, queue_size))
    loss, logits = info_nce(q, k, queue, t)
    assert logits.shape == (batch, queue_size + 1)
    assert loss.item() == pytest.approx(reference_info_nce(q, k, queue, t), rel=1e-9)


def test_info_nce_hand_example():
    # q = k = e1, one negative e2, t = 1: loss = -log(e / (e + 1))
    q = torch.tensor([[1.0, 0.0]]); queue = torch.tensor([[0.0, 1.0]])
    loss, _ = info_nce(q, q.clone(), queue, 1.0)
    assert loss.item() == pytest.approx(-math.log(math.e / (math.e + 1)), rel=1e-6)
