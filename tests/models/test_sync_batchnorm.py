"""GlobalBatchNorm: two gloo processes with half a batch each normalise as one BatchNorm over
the whole batch (outputs, gradients, running statistics), also for inputs far from zero."""

import pytest
import torch

from sslskel.models.sync_batchnorm import GlobalBatchNorm, convert_sync_batchnorm

from ddp_support import batchnorm_inputs, batchnorm_worker, spawn


def test_one_process_is_plain_batchnorm():
    x = torch.randn(6, 3, 4)
    ours, plain = GlobalBatchNorm(3), torch.nn.BatchNorm1d(3)
    assert torch.equal(ours(x), plain(x)) and torch.equal(ours.running_var, plain.running_var)


def test_conversion_keeps_parameters_and_buffers():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4))
    weight, mean = net[1].weight, net[1].running_mean
    converted = convert_sync_batchnorm(net, torch.device("cpu"))
    assert isinstance(converted[1], GlobalBatchNorm)
    assert converted[1].weight is weight and converted[1].running_mean is mean


# offset 300: fp32 resolves x - mean to ~3e-5 only, while E[x^2] - E[x]^2 would be off by ~1e-2
@pytest.mark.parametrize("offset, atol", [(0.0, 1e-5), (300.0, 2e-4)])
def test_two_processes_normalise_like_one_batchnorm_over_the_whole_batch(tmp_path, offset, atol):
    spawn(batchnorm_worker, 2, offset, tmp_path)
    parts = [torch.load(tmp_path / f"bn_rank{r}.pt") for r in range(2)]
    x, w = batchnorm_inputs(offset)
    x.requires_grad_(True)
    bn = torch.nn.BatchNorm2d(4)
    y = bn(x)
    ((y * w).sum() / 8).backward()
    close = dict(rtol=1e-4, atol=atol)
    torch.testing.assert_close(torch.cat([p["y"] for p in parts]), y.detach(), **close)
    # each process back-propagates its own mean; DDP's average over the two is the global mean's
    torch.testing.assert_close(torch.cat([p["grad_x"] for p in parts]) / 2, x.grad, **close)
    torch.testing.assert_close((parts[0]["grad_weight"] + parts[1]["grad_weight"]) / 2, bn.weight.grad, **close)
    torch.testing.assert_close((parts[0]["grad_bias"] + parts[1]["grad_bias"]) / 2, bn.bias.grad, **close)
    for p in parts:  # the same running statistics on both, those of the whole batch
        torch.testing.assert_close(p["running_mean"], bn.running_mean, **close)
        torch.testing.assert_close(p["running_var"], bn.running_var, **close)
