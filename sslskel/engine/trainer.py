"""The pretraining loop: epochs of steps, logging, online kNN, checkpoints, exact resume.

The method's parameter groups each get an optimiser and a schedule (`GroupOptimizers`);
the epoch itself is `sslskel.engine.loop.train_epoch`, the loop fine-tuning and the linear
probe use too.

What makes a resume exact: the learning rate is a pure function of the epoch; the data
order and augmentations are seeded by (seed, epoch, index); the method keeps its queues and
counters in buffers; and the checkpoint written at the end of every epoch holds the model,
every group's optimiser, the epoch / step counters and every RNG state.

Resuming (`resume`) loads `checkpoints/last.pt`; if that file is missing or cannot be read
(truncated, say) it warns and takes the newest periodic `epoch_NNNN.pt` that loads
(`sslskel.engine.resume`, which also decides what a resume may change). A checkpoint whose
weights do not fit the config (an override that changes the model) is a CheckpointError
naming the first key that differs.

Example (see pretrain/run.py for the full set-up):
    trainer = PretrainTrainer(cfg, method, train_data, run_dir, knn_data=(train, val))
    trainer.fit()             # or trainer.fit(resume=True)
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from .. import distributed
from ..common.checkpoint import (
    FORMAT_VERSION,
    capture_rng_state,
    load_checkpoint,
    load_weights,
    require_keys,
    restore_rng_state,
    save_checkpoint,
    seed_everything,
)
from ..common.device import resolve_device
from ..common.features import extract_features
from ..common.knn import knn_accuracy
from ..data.build import build_transform, resolve_layout
from ..data.container import SkeletonData
from ..data.dataset import SkeletonDataset, make_loader
from ..errors import CheckpointError
from ..methods.base import Progress
from .config import to_dict
from .loop import train_epoch
from .optim import GroupOptimizers
from .parallel import ParallelStep, prepare_for_processes
from .resume import find_resume_checkpoint
from .run_log import RunLogger, truncate_metrics


def method_parameter_groups(method) -> dict[str, list[torch.nn.Parameter]]:
    """The method's {group: parameters} in its declared order, checked: the groups are the
    declared ones and every trainable parameter is in exactly one of them."""
    groups = method.parameter_groups()
    if list(groups) != list(method.groups):
        raise ValueError(f"{type(method).__name__}.parameter_groups() returned groups {list(groups)}; "
                         f"the method declares {list(method.groups)} (same names, same order)")
    grouped = {id(p) for params in groups.values() for p in params}
    missing = [name for name, p in method.named_parameters() if p.requires_grad and id(p) not in grouped]
    if missing:
        raise ValueError(f"{type(method).__name__}: trainable parameters in no group: {missing[:5]}")
    return groups


def restore_process_rng(state: dict, path, seed: int) -> None:
    """Restore this process's RNG state from a checkpoint: its own when as many processes wrote
    it; otherwise rank 0 takes rank 0's and the others reseed from (run seed, rank, step)."""
    per_process = state.get("rng_per_process")
    n, r = distributed.world_size(), distributed.rank()
    if per_process is not None and len(per_process) == n:
        restore_rng_state(per_process[r])
        return
    written = len(per_process) if per_process is not None else 1
    if written != n and distributed.is_main():
        warnings.warn(f"{path}: written by {written} process(es), resumed by {n}: data order, weights and "
                      f"method state continue exactly; the global RNG of processes > 0 is reseeded", stacklevel=3)
    restore_rng_state(state["rng"])
    if r > 0:
        seed_everything(process_seed(seed, r, int(state["step"])))


def process_seed(seed: int, rank: int, step: int = 0) -> int:
    """The global-RNG seed of process `rank` (rank 0: the run seed itself)."""
    return seed if rank == 0 and step == 0 else (seed + 1_000_003 * rank + 7 * step) % (2**31 - 1)


class PretrainTrainer:
    def __init__(self, cfg, method, train_data: SkeletonData, run_dir: str | Path | None,
                 knn_data: tuple[SkeletonData, SkeletonData] | None = None):
        """`run_dir` may be None and set later (run_pretraining makes a new run's directory
        only once everything before training has worked)."""
        self.cfg = cfg
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.device = distributed.init_distributed(resolve_device(cfg.run.device))
        self.method = prepare_for_processes(method.to(self.device), self.device)
        self.train_data = train_data
        self.knn_data = knn_data
        resolve_layout(cfg.data, train_data)
        dataset = SkeletonDataset(train_data, build_transform(cfg.data, train=True),
                                  num_views=method.num_views, seed=cfg.run.seed,
                                  partners=method.needs_partners,
                                  shared_crop=getattr(method, "shared_crop", None))
        if hasattr(method, "check_training_data"):  # e.g. CV-MIM warns on pre-normalised data
            method.check_training_data(train_data)
        self.loader = make_loader(dataset, cfg.optim.batch_size, shuffle=True, seed=cfg.run.seed,
                                  num_workers=cfg.data.num_workers, drop_last=True,
                                  device=self.device, distributed=True)
        if len(self.loader) == 0:
            raise ValueError(f"{train_data.source}: training split has {len(train_data)} samples, "
                             f"fewer than optim.batch_size={cfg.optim.batch_size}")
        self.optimizers = GroupOptimizers(method_parameter_groups(self.method), cfg.optim)
        # under torchrun the step runs as DistributedDataParallel's forward
        self.parallel_step = ParallelStep(self.method, self.method.training_step, self.device,
                                          separate_backward=len(self.method.groups) > 1)
        self.epoch = 0  # epochs completed
        self.step = 0  # optimiser steps completed
        self.saved: tuple[Path, int] | None = None  # (checkpoint on disk, the epoch it holds)

    # -- checkpoints ------------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    def state(self) -> dict:
        """The checkpoint; under torchrun (called on every process) it also holds every
        process's RNG state, so each resumes its own."""
        rng = capture_rng_state()
        state = {
            "version": FORMAT_VERSION,
            "method": self.method.state_dict(),
            "optimizers": self.optimizers.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "rng": rng,
            "config": to_dict(self.cfg),
        }
        if distributed.world_size() > 1:
            state["rng_per_process"] = distributed.all_gather_objects(rng)
        return state

    def save(self) -> None:
        """Rank 0 writes (atomically, `save_checkpoint`); every process waits for it, so none
        runs ahead of the checkpoint a crash would resume from."""
        state = self.state()
        last = self.checkpoint_dir / "last.pt"
        save_checkpoint(last, state)
        every = self.cfg.run.checkpoint_every
        if every and self.epoch % every == 0:
            save_checkpoint(self.checkpoint_dir / f"epoch_{self.epoch:04d}.pt", state)
        distributed.barrier()
        self.saved = (last, self.epoch)

    def load(self, path: str | Path, state: dict | None = None) -> None:
        """Continue from the checkpoint at `path` (`state`: its contents, when already read)."""
        path = Path(path)
        state = load_checkpoint(path, map_location=self.device) if state is None else state
        require_keys(state, path, ("method", "epoch", "step", "rng"), "pretraining")
        load_weights(self.method, state["method"], path, "method")
        # version 1 checkpoints had one optimiser, the "main" group's
        optimizers = state["optimizers"] if "optimizers" in state else {"main": state.get("optimizer")}
        try:
            self.optimizers.load_state_dict(optimizers, source=str(path))
        except (ValueError, KeyError, TypeError) as e:
            raise CheckpointError(path, "optimizers", "the optimiser state of this config's groups",
                                  f"another ({e})") from None
        self.epoch, self.step = state["epoch"], state["step"]
        restore_process_rng(state, path, self.cfg.run.seed)
        if distributed.is_main():
            truncate_metrics(self.run_dir, self.step)
        distributed.barrier()
        self.saved = (path, self.epoch)

    def resume(self) -> Path:
        """Load checkpoints/last.pt or, if it is missing or cannot be read, the newest periodic
        checkpoint that can (with a warning naming both); returns the checkpoint used.
        (run_pretraining checks the resume first, `sslskel.engine.resume.plan_resume`.)"""
        path, state = find_resume_checkpoint(self.run_dir, map_location=self.device)
        self.load(path, state)
        return path

    def last_good(self) -> str:
        """For the non-finite-loss error: the checkpoint on disk, if there is one."""
        if self.saved is None:
            return "no checkpoint was written yet"
        return f"last good checkpoint: {self.saved[0]} (epoch {self.saved[1]})"

    def interrupted_message(self) -> str:
        if self.saved is None:
            return ("interrupted: no checkpoint was written yet (the first epoch did not finish); "
                    "start the run again")
        path, epoch = self.saved
        return f"interrupted: {path} holds epoch {epoch}; continue with --resume {self.run_dir}"

    # -- loop -------------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> dict:
        """Train to cfg.optim.epochs; `resume=True` first calls `resume()` (run_pretraining
        calls it itself, before it rewrites config.yaml)."""
        if resume:
            self.resume()
        cfg = self.cfg
        summary = {}
        with RunLogger(self.run_dir, enabled=distributed.is_main()) as logger:
            try:
                while self.epoch < cfg.optim.epochs:
                    summary = self.train_epoch(logger)
                    self.epoch += 1
                    knn_every = cfg.run.knn_every
                    if self.knn_data and knn_every and (self.epoch % knn_every == 0
                                                        or self.epoch == cfg.optim.epochs):
                        knn = self.online_knn()
                        summary.update(knn)
                        logger.log(knn, step=self.step, epoch=self.epoch)
                    self.save()
            except KeyboardInterrupt:
                print("\n" + self.interrupted_message())
                raise
        return summary

    def train_epoch(self, logger: RunLogger) -> dict:
        cfg, epoch = self.cfg, self.epoch
        self.method.train()
        result = train_epoch(
            self.loader, lambda batch, step: self.parallel_step(batch, Progress(epoch, step)),
            self.optimizers, epoch=epoch, step=self.step, device=self.device, amp=cfg.run.amp,
            after_backward=self.parallel_step.after_backward,
            desc=f"epoch {epoch + 1}/{cfg.optim.epochs}", progress=cfg.run.progress, logger=logger,
            log_every=cfg.run.log_every, prefix="train", after_step=self.method.after_optimizer_step,
            failure_hint=self.last_good())
        self.step = result.steps
        summary = {f"epoch/{key}": value for key, value in result.means.items() if key.startswith("loss")}
        logger.log(summary, step=self.step, epoch=epoch)
        return summary

    @torch.no_grad()
    def online_knn(self) -> dict:
        train, val = self.knn_data
        transform = build_transform(self.cfg.data, train=False)
        kwargs = dict(batch_size=self.cfg.optim.batch_size, device=self.device, amp=self.cfg.run.amp)
        train_x, train_y = extract_features(self.method.encoder, train, transform, **kwargs)
        val_x, val_y = extract_features(self.method.encoder, val, transform, **kwargs)
        num_classes = max(train.num_classes, val.num_classes)
        out = {}
        for k in self.cfg.linear.knn_k:
            acc = knn_accuracy(train_x, train_y, val_x, val_y, k=k, num_classes=num_classes,
                               temperature=self.cfg.linear.knn_temperature)
            out[f"knn/top1_k{k}"] = acc["top1"]
        self.method.train()
        return out
