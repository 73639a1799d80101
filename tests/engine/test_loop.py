"""sslskel.engine.loop.train_epoch against a plain loop: same weights, sample-weighted means,
periodic logs with per-group names, a clear error on a non-finite loss."""

import math

import pytest
import torch

from sslskel.data.batch import Batch
from sslskel.engine.config import OptimConfig
from sslskel.engine.loop import LoopSettings, train_epoch
from sslskel.engine.optim import GroupOptimizers

CPU = torch.device("cpu")


class ListLogger:
    def __init__(self):
        self.records = []

    def log(self, scalars, step, epoch=None):
        self.records.append({"step": step, "epoch": epoch, **scalars})


def batches(sizes=(4, 4, 2)):
    g = torch.Generator().manual_seed(0)
    return [Batch([torch.randn(n, 3, generator=g)], torch.ones(n, 1), torch.zeros(n), torch.arange(n)) for n in sizes]


def test_matches_a_plain_loop_and_weights_the_means_by_samples():
    w = torch.nn.Parameter(torch.zeros(3))
    w_ref = torch.nn.Parameter(torch.zeros(3))
    cfg = OptimConfig(lr=0.1, momentum=0.9, weight_decay=0.0, milestones=[1])
    calls = []
    result = train_epoch(batches(), lambda b, step: ({"main": (b.views[0] - w).pow(2).mean()},
                                                     {"x": b.views[0].mean()}),
                         GroupOptimizers({"main": [w]}, cfg),
                         LoopSettings(device=CPU, progress=False, after_step=lambda: calls.append(1)),
                         epoch=1, step=7)
    sgd = torch.optim.SGD([w_ref], lr=0.01, momentum=0.9)  # epoch 1 is past the milestone
    losses, means = [], []
    for b in batches():
        loss = (b.views[0] - w_ref).pow(2).mean()
        sgd.zero_grad()
        loss.backward()
        sgd.step()
        losses.append((float(loss), b.size))
        means.append((float(b.views[0].mean()), b.size))
    assert torch.equal(w, w_ref)
    assert result.steps == 10 and result.samples == 10 and len(calls) == 3
    assert result.means["loss"] == pytest.approx(sum(v * n for v, n in losses) / 10, rel=1e-6)
    assert result.means["x"] == pytest.approx(sum(v * n for v, n in means) / 10, rel=1e-6)


def test_logs_every_n_steps_with_per_group_names():
    w, c = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(1))
    opt = GroupOptimizers({"main": [w], "critic": [c]}, OptimConfig(lr=0.1, groups={"critic": {"lr": 0.2}}))
    logger = ListLogger()
    result = train_epoch(batches((2,) * 5), lambda b, s: ({"main": w.pow(2).sum() + 1, "critic": c.pow(2).sum()},
                                                          {"k": torch.tensor(3.0)}),
                         opt, LoopSettings(device=CPU, progress=False, logger=logger, log_every=2, prefix="train"),
                         epoch=0, step=0)
    assert [r["step"] for r in logger.records] == [2, 4]
    record = logger.records[0]
    assert record["train/loss"] == 1.0 and record["train/loss_critic"] == 0.0 and record["k"] == 3.0
    assert record["train/lr"] == 0.1 and record["train/lr_critic"] == 0.2 and record["train/samples_per_s"] > 0
    assert set(result.means) == {"loss", "loss_critic", "k"}


def test_a_non_finite_loss_stops_before_the_step():
    w = torch.nn.Parameter(torch.zeros(3))
    opt = GroupOptimizers({"main": [w]}, OptimConfig())
    with pytest.raises(FloatingPointError, match=r"train: loss is nan at epoch 0, step 0; last good: x"):
        train_epoch(batches(), lambda b, s: ({"main": w.sum() * math.nan}, {}), opt,
                    LoopSettings(device=CPU, progress=False), epoch=0, step=0, failure_hint="last good: x")
    assert torch.equal(w, torch.zeros(3))
