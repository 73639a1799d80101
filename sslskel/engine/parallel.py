"""A training step run through DistributedDataParallel when torchrun started several processes.

The engine calls a method's `training_step` (or the fine-tuner's loss function) through
`ParallelStep`. With one process that is a plain call. With several, the modules that hold
the trainable parameters are wrapped in `torch.nn.parallel.DistributedDataParallel` and the
step runs as its forward, so DDP averages the gradients during backward (bucketed,
overlapped with the backward pass) and broadcast rank 0's weights when it was built.

Details that keep N processes equal to one (sslskel.common.distributed):
- BatchNorms are synchronised first (`convert_sync_batchnorm`, our documented choice over
  shuffle-BN) and buffers are not re-broadcast at each forward: the buffers are equal on every process by
  construction (MoCo's queue is fed gathered keys, BN statistics are global), so copying
  rank 0's 16384 x 128 queue every step would only cost time (they are copied once, when
  DDP wraps the module).
- A method with several parameter groups back-propagates one loss per group, which DDP
  cannot follow (it expects one backward per forward): its forward runs under `no_sync()`
  and `after_backward` averages the gradients of every group before the optimisers step.

Example (one process: a plain call):
    >>> import torch
    >>> lin = torch.nn.Linear(2, 1)
    >>> step = ParallelStep(lin, lambda x: {"main": lin(x).sum()}, torch.device("cpu"))
    >>> float(step(torch.zeros(1, 2))["main"]) == float(lin.bias)
    True
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
from torch import nn

from .. import distributed
from ..models.sync_batchnorm import convert_sync_batchnorm

# buffers are synchronised once when DDP wraps the module, never at each forward (the name of
# that switch changed in torch 2.13)
NO_BUFFER_SYNC = ({"forward_sync_buffers": False}
                  if "forward_sync_buffers" in inspect.signature(nn.parallel.DistributedDataParallel).parameters
                  else {"broadcast_buffers": False})


class _StepModule(nn.Module):
    """DDP syncs the gradients of what its module's forward computed: forward = the step."""

    def __init__(self, module: nn.Module, fn: Callable):
        super().__init__()
        self.module = module
        self.fn = fn

    def forward(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def prepare_for_processes(module: nn.Module, device: torch.device) -> nn.Module:
    """`module` with synchronised BatchNorms when several processes train (before the
    optimisers are built, though the parameters stay the same objects)."""
    return convert_sync_batchnorm(module, device) if distributed.world_size() > 1 else module


class ParallelStep:
    """Calls `fn(*args)` (which uses `module`'s parameters); through DDP under torchrun.
    `separate_backward=True`: the step's losses are back-propagated one group at a time."""

    def __init__(self, module: nn.Module, fn: Callable, device: torch.device, separate_backward: bool = False):
        self.fn = fn
        self.separate_backward = separate_backward
        self.ddp = None
        if distributed.world_size() > 1:
            self.ddp = nn.parallel.DistributedDataParallel(
                _StepModule(module, fn), device_ids=[device.index] if device.type == "cuda" else None,
                **NO_BUFFER_SYNC)
            self.params = [p for p in module.parameters() if p.requires_grad]

    def __call__(self, *args, **kwargs):
        if self.ddp is None:
            return self.fn(*args, **kwargs)
        if self.separate_backward:
            with self.ddp.no_sync():
                return self.ddp(*args, **kwargs)
        return self.ddp(*args, **kwargs)

    def after_backward(self) -> None:
        """Average the gradients over processes where DDP did not (several backward passes)."""
        if self.ddp is not None and self.separate_backward:
            distributed.average_gradients(self.params)
