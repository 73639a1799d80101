"""The pretraining run: a method's epochs of steps, then online kNN (a `Trainer`).

The method's parameter groups each get an optimiser and a schedule (`GroupOptimizers`); its
checkpoint holds the method (weights and buffers: queues, prototypes, counters). Checkpoints,
resume, interrupts, the run lock and DDP are the base `Trainer`'s
(`sslskel.engine.trainer`); `run_pretraining` (`sslskel.engine.pretrain`) builds this trainer
from a config and checks a resume before it.

Example (see pretrain/run.py for the full set-up):
    trainer = PretrainTrainer(cfg, method, train_data, run_dir, knn_data=(train, val))
    trainer.fit()             # or trainer.fit(resume=True)
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..common.checkpoint import load_weights
from ..common.device import amp_dtype
from ..common.features import extract_features
from ..common.knn import knn_accuracy
from ..data.build import build_transform
from ..data.container import SkeletonData
from ..data.dataset import SkeletonDataset, make_loader
from ..methods import run_amp
from ..methods.base import Progress
from .loop import LoopSettings
from .optim import GroupOptimizers
from .parallel import prepare_for_processes
from .trainer import Trainer, process_device


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


class PretrainTrainer(Trainer):
    label = "pretraining"
    required_keys = ("method", "epoch", "step", "rng")

    def __init__(self, cfg, method, train_data: SkeletonData, run_dir: str | Path | None,
                 knn_data: tuple[SkeletonData, SkeletonData] | None = None):
        """`run_dir` may be None and set later (run_pretraining makes a new run's directory
        only once everything before training has worked)."""
        run = cfg.run
        device = process_device(run.device)
        self.amp = run_amp(cfg, device)  # config.yaml keeps `auto`; HaLP resolves it to fp32 on CPUs
        why = f"; {cfg.method} keeps fp32 on CPUs (docs/benchmarks.md)" if self.amp != run.amp else ""
        print(f"precision: {'bf16 autocast' if amp_dtype(device, self.amp) else 'fp32'} (run.amp={run.amp}{why})")
        loop = LoopSettings(device, amp=self.amp, progress=run.progress, prefix="train", log_every=run.log_every)
        super().__init__(cfg, run_dir, loop, epochs=cfg.optim.epochs, epochs_key="optim.epochs", seed=run.seed)
        self.method = prepare_for_processes(method.to(self.device), self.device)
        loop.after_step = self.method.after_optimizer_step
        self.train_data = train_data
        self.knn_data = knn_data
        dataset = SkeletonDataset(train_data, build_transform(cfg.data, train=True, layout=train_data.layout),
                                  num_views=method.num_views, seed=run.seed,
                                  partners=method.needs_partners,
                                  shared_crop=getattr(method, "shared_crop", None))
        if hasattr(method, "check_training_data"):  # e.g. CV-MIM warns on pre-normalised data
            method.check_training_data(train_data)
        self.loader = make_loader(dataset, cfg.optim.batch_size, shuffle=True, seed=run.seed,
                                  num_workers=cfg.data.num_workers, drop_last=True,
                                  device=self.device, distributed=True)
        if len(self.loader) == 0:
            raise ValueError(f"{train_data.source}: training split has {len(train_data)} samples, "
                             f"fewer than optim.batch_size={cfg.optim.batch_size}")
        self.optimizers = GroupOptimizers(method_parameter_groups(self.method), cfg.optim)
        # a method with several groups back-propagates one loss per group (ParallelStep)
        self.parallel_step = self.parallel(self.method, self.method.training_step,
                                           separate_backward=len(self.method.groups) > 1)
        self.summary: dict = {}  # the last epoch's losses (and kNN accuracy)

    def checkpoint_parts(self) -> dict:
        return {"method": self.method.state_dict()}

    def load_parts(self, state: dict, path: Path) -> None:
        load_weights(self.method, state["method"], path, "method")

    def continue_hint(self) -> str:
        return f"continue with --resume {self.run_dir}" if self.saved else "start the run again"

    def run_epoch(self) -> dict:
        epoch = self.epoch
        self.method.train()
        result = self.run_loader(self.loader, lambda batch, step: self.parallel_step(batch, Progress(epoch, step)))
        self.summary = {f"epoch/{key}": value for key, value in result.means.items() if key.startswith("loss")}
        self.log(self.summary, epoch=epoch)
        return self.summary

    def after_epoch(self, record: dict) -> None:
        """Online kNN every `run.knn_every` epochs and after the last."""
        every = self.cfg.run.knn_every
        if self.knn_data and every and (self.epoch % every == 0 or self.epoch == self.epochs):
            knn = self.online_knn()
            self.summary.update(knn)
            self.log(knn, epoch=self.epoch)

    def result(self) -> dict:
        return self.summary

    @torch.no_grad()
    def online_knn(self) -> dict:
        train, val = self.knn_data
        transform = build_transform(self.cfg.data, train=False, layout=train.layout)
        kwargs = dict(batch_size=self.cfg.optim.batch_size, device=self.device, amp=self.amp)
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
