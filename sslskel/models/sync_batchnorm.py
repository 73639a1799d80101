"""BatchNorm over the global batch when several processes train (our choice over shuffle-BN).

Why synchronised BN and not MoCo's shuffle-BN: CMD and HaLP trained on one GPU, so their
BatchNorms (the GRU's input norm, ST-GCN / CTR-GCN's) normalised over the whole batch of 64.
Synchronising the statistics over the processes keeps exactly that at any process count, so
N processes train the method of the paper (and match one process, which the DDP tests check);
shuffle-BN would normalise over per-process sub-batches, a different method. Its purpose,
stopping queries from reading their keys through batch statistics, never applied to the
one-GPU recipes we reproduce.

On CUDA `torch.nn.SyncBatchNorm` does it; it refuses CPU tensors, so on CPU (gloo) the
layers become `GlobalBatchNorm`: every process's per-channel count, mean and sum of squared
deviations are gathered (differentiably) and combined into the global batch's statistics,
which normalise every process's rows. Rows per process may differ (the GRU normalises valid
frames only), the counts take care of it.

Example (one process: plain BatchNorm):
    >>> import torch
    >>> from torch import nn
    >>> net = convert_sync_batchnorm(nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)), torch.device("cpu"))
    >>> type(net[1]).__name__, net(torch.randn(8, 4)).shape
    ('GlobalBatchNorm', torch.Size([8, 3]))
"""

from __future__ import annotations

import torch
from torch import nn

from .. import distributed


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """A BatchNorm (1d, 2d or 3d input) whose training statistics cover every process's batch."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2-D input (N, C, ...), got {x.dim()}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        if not (self.training and distributed.world_size() > 1):
            return super().forward(x)
        channels = x.shape[1]
        dims = [0, *range(2, x.dim())]
        xf = x.float()  # statistics in fp32 under autocast
        # each process's count, mean and sum of squared deviations (two-pass, as BatchNorm), then
        # combined exactly (Chan et al.): E[x^2] - E[x]^2 would cancel badly for offset inputs
        local_mean = xf.mean(dims)
        local_m2 = (xf - local_mean.view([1, channels] + [1] * (x.dim() - 2))).pow(2).sum(dims)
        count = xf.new_tensor([x.numel() / channels])
        stats = distributed.gather_rows_with_grad(torch.cat([count, local_mean, local_m2])[None])
        counts, means, m2s = stats[:, :1], stats[:, 1:channels + 1], stats[:, channels + 1:]
        n = counts.sum()
        mean = (counts * means).sum(0) / n
        var = (m2s.sum(0) + (counts * (means - mean) ** 2).sum(0)) / n
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                factor = (1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum)
                unbiased = var * (n / (n - 1).clamp_min(1.0))
                self.running_mean.mul_(1 - factor).add_(mean.to(self.running_mean.dtype), alpha=factor)
                self.running_var.mul_(1 - factor).add_(unbiased.to(self.running_var.dtype), alpha=factor)
        shape = [1, channels] + [1] * (x.dim() - 2)
        y = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def convert_sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """`module` with every BatchNorm synchronised over the processes (same parameters and
    buffers): torch.nn.SyncBatchNorm on CUDA, GlobalBatchNorm elsewhere."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _convert(module)


def _convert(module: nn.Module) -> nn.Module:
    out = module
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
        out = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats)
        if module.affine:
            out.weight, out.bias = module.weight, module.bias
        if module.track_running_stats:
            out.running_mean, out.running_var = module.running_mean, module.running_var
            out.num_batches_tracked = module.num_batches_tracked
        out.train(module.training)
    for name, child in module.named_children():
        out.add_module(name, _convert(child))
    return out
