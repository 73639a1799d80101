"""Learning-rate schedule as a pure function of progress.

The rate is recomputed from (epoch, step in epoch) before every step, so there is no
scheduler state to save and a resumed run gets exactly the rate it would have had.

Example:
    >>> step_lr(0.01, epoch=349, milestones=[350]), step_lr(0.01, epoch=350, milestones=[350])
    (0.01, 0.001)
    >>> step_lr(0.1, epoch=0, milestones=[35, 55], warmup_epochs=5)  # CTR-GCN's warm-up
    0.02
"""

from __future__ import annotations


def step_lr(base_lr: float, epoch: int, milestones: list[int], gamma: float = 0.1,
            warmup_epochs: int = 0) -> float:
    """Step decay by `gamma` at each milestone epoch, after a linear per-epoch warm-up."""
    if epoch < warmup_epochs:
        return base_lr * (epoch + 1) / warmup_epochs
    drops = sum(epoch >= m for m in milestones)
    return base_lr * gamma**drops


def set_lr(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
