"""The pretraining loop: epochs of steps, logging, online kNN, checkpoints, exact resume.

What makes a resume exact: the learning rate is a pure function of the epoch; the data
order and augmentations are seeded by (seed, epoch, index); the method keeps its queues and
counters in buffers; and the checkpoint written at the end of every epoch holds the model,
the optimiser, the epoch / step counters and every RNG state.

Example (see pretrain/run.py for the full set-up):
    trainer = PretrainTrainer(cfg, method, train_data, run_dir, knn_data=(train, val))
    trainer.fit()             # or trainer.fit(resume=True)
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from tqdm import tqdm

from ..data.build import build_transform, resolve_layout
from ..data.container import SkeletonData
from ..data.dataset import SkeletonDataset, make_loader, set_loader_epoch
from ..methods.base import Progress
from ..common.checkpoint import capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint
from ..common.device import autocast, resolve_device, to_device
from ..common.features import extract_features
from ..common.knn import knn_accuracy
from ..common.schedule import set_lr, step_lr
from .config import to_dict
from .run_log import RunLogger, truncate_metrics


def build_optimizer(params, optim_cfg) -> torch.optim.Optimizer:
    if optim_cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=optim_cfg.lr, momentum=optim_cfg.momentum,
                               weight_decay=optim_cfg.weight_decay, nesterov=optim_cfg.nesterov)
    if optim_cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=optim_cfg.lr, weight_decay=optim_cfg.weight_decay)
    raise ValueError(f"optim.optimizer: expected sgd or adam, got {optim_cfg.optimizer!r}")


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
                                  num_views=method.num_views, seed=cfg.run.seed)
        self.loader = make_loader(dataset, cfg.optim.batch_size, shuffle=True, seed=cfg.run.seed,
                                  num_workers=cfg.data.num_workers, drop_last=True,
                                  device=self.device)
        if len(self.loader) == 0:
            raise ValueError(f"{train_data.source}: training split has {len(train_data)} samples, "
                             f"fewer than optim.batch_size={cfg.optim.batch_size}")
        trainable = [p for p in self.method.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(trainable, cfg.optim)
        self.epoch = 0  # epochs completed
        self.step = 0  # optimiser steps completed
        self.checkpoint_dir = self.run_dir / "checkpoints"

    # -- checkpoints ------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "version": 1,
            "method": self.method.state_dict(),
            "optimizer": self.optimizer.state_dict(),
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
        self.optimizer.load_state_dict(state["optimizer"])
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
        cfg = self.cfg
        self.method.train()
        set_loader_epoch(self.loader, self.epoch)
        lr = step_lr(cfg.optim.lr, self.epoch, cfg.optim.milestones, cfg.optim.gamma,
                     cfg.optim.warmup_epochs)
        set_lr(self.optimizer, lr)
        bar = tqdm(self.loader, desc=f"epoch {self.epoch + 1}/{cfg.optim.epochs}",
                   disable=not cfg.run.progress, leave=False, dynamic_ncols=True)
        window_start, window_samples, losses = time.perf_counter(), 0, []
        for batch in bar:
            batch = to_device(batch, self.device)
            with autocast(self.device, cfg.run.amp):
                loss, logs = self.method.training_step(batch["views"], batch["lengths"],
                                                       Progress(self.epoch, self.step))
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {loss.item()} at epoch {self.epoch}, "
                                         f"step {self.step}; last good checkpoint: "
                                         f"{self.checkpoint_dir / 'last.pt'}")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.method.after_optimizer_step()
            self.step += 1
            window_samples += batch["views"][0].shape[0]
            losses.append(loss.detach())
            if self.step % cfg.run.log_every == 0:
                elapsed = time.perf_counter() - window_start
                scalars = {"train/loss": loss.detach(), "train/lr": lr,
                           "train/samples_per_s": window_samples / max(elapsed, 1e-9)}
                scalars.update(logs)
                scalars = {k: float(v) for k, v in scalars.items()}
                logger.log(scalars, step=self.step, epoch=self.epoch)
                bar.set_postfix(loss=f"{scalars['train/loss']:.3f}", lr=f"{lr:.2g}")
                window_start, window_samples = time.perf_counter(), 0
        epoch_loss = float(torch.stack(losses).mean())
        logger.log({"epoch/loss": epoch_loss}, step=self.step, epoch=self.epoch)
        return {"epoch/loss": epoch_loss}

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
