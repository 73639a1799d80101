"""Learning-rate schedule as a pure function of the epoch.

`step_lr` depends on the 0-based epoch only. The training loops (pretraining, linear
evaluation, fine-tuning) call it once at the start of each epoch and keep that rate for
every step of the epoch: the rate changes at epoch boundaries, never within an epoch,
warm-up included. There is no scheduler state to save, and a resumed run (which restarts
at an epoch boundary) gets exactly the rate it would have had.

Warm-up (CTR-GCN's rule): in epoch e < warmup_epochs the rate is base_lr * (e + 1) /
warmup_epochs, so it starts at base_lr / warmup_epochs (not at 0) and reaches base_lr in
the last warm-up epoch. After the warm-up the rate is base_lr * gamma ** (number of
milestones <= epoch); milestones count epochs from 0 and are ignored during the warm-up.

Example:
    >>> step_lr(0.01, epoch=349, milestones=[350]), step_lr(0.01, epoch=350, milestones=[350])
    (0.01, 0.001)
    >>> step_lr(0.1, epoch=0, milestones=[35, 55], warmup_epochs=5)  # CTR-GCN's warm-up
    0.02
"""

from __future__ import annotations


def step_lr(base_lr: float, epoch: int, milestones: list[int], gamma: float = 0.1,
            warmup_epochs: int = 0) -> float:
    """The rate for the whole of `epoch` (0-based): a linear warm-up that rises once per
    epoch, then step decay by `gamma` at each milestone epoch (see the module docstring)."""
    if epoch < warmup_epochs:
        return base_lr * (epoch + 1) / warmup_epochs
    drops = sum(epoch >= m for m in milestones)
    return base_lr * gamma**drops


def set_lr(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
