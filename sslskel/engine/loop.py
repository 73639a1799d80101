"""The one epoch loop: pretraining, fine-tuning and the linear probe all train through it.

`train_epoch` sets each group's learning rate for the epoch, then for every batch: moves it
to the device, calls `step_fn(batch, step)` under autocast for ({group: loss}, {name: scalar}),
stops on a non-finite loss, steps the optimisers (`GroupOptimizers.step`), calls
`after_step`, and every `log_every` steps logs the losses, rates, throughput and scalars.
It returns the epoch's sample-weighted means of every loss and scalar, so callers log
epoch records without a second pass. Losses are summed on the device: the loop itself never
waits for the accelerator except for the finite check and the periodic logs.

What stays the same from one epoch of a run to the next (device, autocast, logging, the
method's hooks) is one `LoopSettings`; `train_epoch` itself takes only what changes.

Log names: `<prefix>/loss` and `<prefix>/lr` for group "main", `<prefix>/loss_<group>` and
`<prefix>/lr_<group>` for the others, `<prefix>/samples_per_s`, then the step's own scalars
under their own names. Epoch means use the same names without the prefix ("loss",
"loss_critic", "loss/infonce", ...).

Example:
    >>> import torch
    >>> from sslskel.data.batch import Batch
    >>> from sslskel.engine.config import OptimConfig
    >>> from sslskel.engine.optim import GroupOptimizers
    >>> w = torch.nn.Parameter(torch.zeros(3))
    >>> batches = [Batch([torch.ones(2, 3)], torch.ones(2, 1), torch.zeros(2), torch.arange(2))] * 4
    >>> step_fn = lambda batch, step: ({"main": (batch.views[0] - w).pow(2).mean()}, {})
    >>> opt = GroupOptimizers({"main": [w]}, OptimConfig(lr=0.5, momentum=0.0, weight_decay=0.0))
    >>> run = LoopSettings(device=torch.device("cpu"), progress=False)
    >>> result = train_epoch(batches, step_fn, opt, run, epoch=0, step=0)
    >>> result.steps, round(result.means["loss"], 4), round(float(w.detach()[0]), 4)
    (4, 0.4324, 0.8025)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from .. import distributed
from ..common.device import autocast
from ..common.progress import progress_bar
from ..data.batch import Batch
from ..data.dataset import set_loader_epoch
from .optim import GroupOptimizers
from .run_log import RunLogger

StepFn = Callable[[Batch, int], tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]]


@dataclass
class LoopSettings:
    """A run's settings of the epoch loop (the Trainer makes one; fields may be set later)."""

    device: torch.device
    amp: str = "off"  # autocast: off | bf16 | fp16 | auto (sslskel.common.device.autocast)
    progress: bool = True  # progress bar (rank 0)
    prefix: str = "train"  # of the logged names and of the non-finite-loss message
    logger: RunLogger | None = None
    log_every: int = 0  # steps between logged records (0: none)
    after_step: Callable[[], None] | None = None  # after the optimisers stepped (MoCo's momentum update)
    after_backward: Callable[[], None] | None = None  # before they step (gradient averaging)


@dataclass
class EpochResult:
    means: dict[str, float]  # sample-weighted means over the epoch
    samples: int
    steps: int  # global optimiser steps done after this epoch
    seconds: float  # training time of the epoch, data loading included


def loss_name(group: str) -> str:
    return "loss" if group == "main" else f"loss_{group}"


def lr_name(group: str) -> str:
    return "lr" if group == "main" else f"lr_{group}"


def mean_over_processes(values: dict) -> dict[str, float]:
    """{name: float} averaged over the torchrun processes (one all-reduce; plain floats alone)."""
    keys = sorted(values)
    stacked = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
    if distributed.world_size() > 1:
        stacked = distributed.all_reduce_mean(stacked.to(distributed.collective_device()))
    return dict(zip(keys, stacked.tolist()))


def train_epoch(loader: Iterable[Batch], step_fn: StepFn, optimizers: GroupOptimizers, run: LoopSettings, *,
                epoch: int, step: int, desc: str = "", failure_hint: str = "") -> EpochResult:
    """Train one epoch (see the module docstring); `step` counts optimiser steps done before it.
    Under torchrun every process runs it on its share of each batch; the logged values and the
    epoch means are averaged over the processes, throughput is summed."""
    if hasattr(loader, "sampler") and hasattr(loader.sampler, "set_epoch"):
        set_loader_epoch(loader, epoch)
    lrs = optimizers.set_epoch(epoch)
    bar = progress_bar(loader, desc, enabled=run.progress and distributed.is_main())  # plain lines off a terminal
    sums: dict[str, torch.Tensor | float] = {}
    counts: dict[str, int] = {}
    start = window_start = time.perf_counter()
    samples = window_samples = 0
    for batch in bar:
        batch = batch.to(run.device)
        with autocast(run.device, run.amp):
            losses, scalars = step_fn(batch, step)
        for group, loss in losses.items():
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{run.prefix}: {loss_name(group)} is {loss.item()} at epoch {epoch}, "
                                         f"step {step}" + (f"; {failure_hint}" if failure_hint else ""))
        optimizers.step(losses, run.after_backward)
        if run.after_step is not None:
            run.after_step()
        step += 1
        n = batch.size
        samples += n
        window_samples += n
        named = {loss_name(group): loss.detach() for group, loss in losses.items()}
        named.update(scalars)
        for key, value in named.items():
            value = value.detach().float() if isinstance(value, torch.Tensor) else float(value)
            sums[key] = sums.get(key, 0.0) + value * n
            counts[key] = counts.get(key, 0) + n
        if run.log_every and step % run.log_every == 0:
            log_window(run, bar, losses, scalars, lrs, step, epoch, window_samples, time.perf_counter() - window_start)
            window_start, window_samples = time.perf_counter(), 0
    if distributed.world_size() > 1:  # every process has the same keys: all_reduce in a fixed order
        sums = mean_over_processes(sums)  # equal shares per process: the mean of sums is fair
    means = {key: float(total) / counts[key] for key, total in sums.items()}
    return EpochResult(means=means, samples=samples, steps=step, seconds=time.perf_counter() - start)


def log_window(run: LoopSettings, bar, losses: dict, scalars: dict, lrs: dict, step: int, epoch: int,
               samples: int, elapsed: float) -> None:
    """Log the step's losses, rates and scalars (averaged over processes) and the throughput of
    the `samples` trained in the last `elapsed` seconds; show them on the progress bar."""
    prefix = run.prefix
    record = {f"{prefix}/{loss_name(g)}": loss.detach() for g, loss in losses.items()}
    record.update({f"{prefix}/{lr_name(g)}": lr for g, lr in lrs.items()})
    record.update(scalars)
    record = mean_over_processes(record)
    record[f"{prefix}/samples_per_s"] = distributed.world_size() * samples / max(elapsed, 1e-9)
    if run.logger is not None:
        run.logger.log(record, step=step, epoch=epoch)
    bar.set_postfix(loss=f"{record.get(f'{prefix}/loss', float('nan')):.3f}", lr=f"{lrs.get('main', 0):.2g}",
                    samples_per_s=f"{record[f'{prefix}/samples_per_s']:.0f}")
