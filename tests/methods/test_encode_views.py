"""`encode_views`: both views through the GRU in one call give the losses and gradients of one
call per view (the code before it; benchmarks/bench_two_views.py times the two)."""

import copy

import pytest
import torch

from sslskel.data.batch import Batch
from sslskel.engine.config import load_config
from sslskel.methods import build_method
from sslskel.methods.base import Progress

TINY = ["data.layout=ntu25", "optim.batch_size=4", "encoder.args={hidden_size: 8, num_layers: 1}"]
CASES = {
    "simclr": ["simclr.mlp_hidden=16", "simclr.feature_dim=8"],
    "vsimclr": ["simclr.mlp_hidden=16", "simclr.feature_dim=8"],
    "cvmim": ["cvmim.view_pairs=camera"],
}


def one_call_per_view(method):
    return lambda xs, lengths: [method.encoder(x, n) for x, n in zip(xs, lengths)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_call_equals_one_call_per_view(name):
    torch.manual_seed(0)
    together = build_method(load_config(None, [f"method={name}", *TINY, *CASES[name]]))
    separate = copy.deepcopy(together)
    separate.encode_views = one_call_per_view(separate)
    lengths = torch.tensor([[10, 7], [4, 10], [10, 10], [6, 3]])
    views = [torch.randn(4, 3, 10, 25, 2) for _ in range(2)]
    batch = Batch(views, lengths, torch.zeros(4), torch.arange(4))
    for method in (together, separate):  # the same random draws (augmentation, samples) in both
        torch.manual_seed(1)
        method.losses = method.training_step(batch, Progress(0, 0))[0]
        sum(method.losses.values()).backward()
    for group in together.losses:
        # float32: the GRU's products over 2N rows round differently in the last bits only
        torch.testing.assert_close(together.losses[group], separate.losses[group], rtol=1e-5, atol=1e-6)
    for (param, a), b in zip(separate.named_parameters(), together.parameters()):
        if a.grad is not None:
            torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-6, msg=param)
    torch.testing.assert_close(together.encoder.input_norm.running_mean, separate.encoder.input_norm.running_mean)
