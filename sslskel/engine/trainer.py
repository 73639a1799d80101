"""The pretraining loop: epochs of steps, logging, online kNN, checkpoints, exact resume.

The method's parameter groups each get an optimiser and a schedule (`GroupOptimizers`);
the epoch itself is `sslskel.engine.loop.train_epoch`, the loop fine-tuning and the linear
probe use too.

What makes a resume exact: the learning rate is a pure function of the epoch; the data
order and augmentations are seeded by (seed, epoch, index); the method keeps its queues and
counters in buffers; and the checkpoint written at the end of every epoch holds the model,
every group's optimiser, the epoch / step counters and every RNG state.

Example (see pretrain/run.py for the full set-up):
    trainer = PretrainTrainer(cfg, method, train_data, run_dir, knn_data=(train, val))
    trainer.fit()             # or trainer.fit(resume=True)
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..common.checkpoint import capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint
from ..common.device import resolve_device
from ..common.features import extract_features
from ..common.knn import knn_accuracy
from ..data.build import build_transform, resolve_layout
from ..data.container import SkeletonData
from ..data.dataset import SkeletonDataset, make_loader
from ..methods.base import Progress
from .config import to_dict
from .loop import train_epoch
from .optim import GroupOptimizers
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


class PretrainTrainer:
    def __init__(self, cfg, method, train_data: SkeletonData, run_dir: str | Path,
                 knn_data: tuple[SkeletonData, SkeletonData] | None = None):
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.device = resolve_device(cfg.run.device)
        self.method = method.to(self.device)
        self.train_data = train_data
        self.knn_data = knn_data
        resolve_layout(cfg.data, train_data)
        dataset = SkeletonDataset(train_data, build_transform(cfg.data, train=True),
                                  num_views=method.num_views, seed=cfg.run.seed,
                                  partners=method.needs_partners)
        self.loader = make_loader(dataset, cfg.optim.batch_size, shuffle=True, seed=cfg.run.seed,
                                  num_workers=cfg.data.num_workers, drop_last=True,
                                  device=self.device)
        if len(self.loader) == 0:
            raise ValueError(f"{train_data.source}: training split has {len(train_data)} samples, "
                             f"fewer than optim.batch_size={cfg.optim.batch_size}")
        self.optimizers = GroupOptimizers(method_parameter_groups(self.method), cfg.optim)
        self.epoch = 0  # epochs completed
        self.step = 0  # optimiser steps completed
        self.checkpoint_dir = self.run_dir / "checkpoints"

    # -- checkpoints ------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "version": 2,
            "method": self.method.state_dict(),
            "optimizers": self.optimizers.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "rng": capture_rng_state(),
            "config": to_dict(self.cfg),
        }

    def save(self) -> None:
        state = self.state()
        save_checkpoint(self.checkpoint_dir / "last.pt", state)
        every = self.cfg.run.checkpoint_every
        if every and self.epoch % every == 0:
            save_checkpoint(self.checkpoint_dir / f"epoch_{self.epoch:04d}.pt", state)

    def load(self, path: str | Path) -> None:
        state = load_checkpoint(path, map_location=self.device)
        self.method.load_state_dict(state["method"])
        # version 1 checkpoints had one optimiser, the "main" group's
        self.optimizers.load_state_dict(state["optimizers"] if "optimizers" in state
                                        else {"main": state["optimizer"]}, source=str(path))
        self.epoch, self.step = state["epoch"], state["step"]
        restore_rng_state(state["rng"])
        truncate_metrics(self.run_dir, self.step)

    # -- loop -------------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> dict:
        if resume:
            self.load(self.checkpoint_dir / "last.pt")
        cfg = self.cfg
        summary = {}
        with RunLogger(self.run_dir) as logger:
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
                print(f"\ninterrupted: {self.checkpoint_dir / 'last.pt'} holds epoch {self.epoch}; "
                      f"continue with --resume {self.run_dir}")
                raise
        return summary

    def train_epoch(self, logger: RunLogger) -> dict:
        cfg, epoch = self.cfg, self.epoch
        self.method.train()
        result = train_epoch(
            self.loader, lambda batch, step: self.method.training_step(batch, Progress(epoch, step)),
            self.optimizers, epoch=epoch, step=self.step, device=self.device, amp=cfg.run.amp,
            desc=f"epoch {epoch + 1}/{cfg.optim.epochs}", progress=cfg.run.progress, logger=logger,
            log_every=cfg.run.log_every, prefix="train", after_step=self.method.after_optimizer_step,
            failure_hint=f"last good checkpoint: {self.checkpoint_dir / 'last.pt'}")
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
