"""Whole-network training with labels: semi-supervised fine-tuning and supervised CTR-GCN.

`finetune` trains an encoder plus a linear classifier (nn.Linear(feature_dim, classes)) with
cross-entropy on a (possibly label-subsampled) training split and evaluates on the val split
after every epoch. The same loop serves two protocols:

* semi-supervised (CMD; docs/methods.md, Evaluation protocols): a pretrained encoder, the
  `finetune` section's CMD recipe (SGD lr 0.01, 80 epochs, drops at 50 and 70, linear-eval
  crop), 1-20 % of the labels;
* supervised (SkeletonGCL stage; docs/methods.md, SkeletonGCL): a fresh CTR-GCN and the
  CTR-GCN recipe (SGD nesterov, lr 0.1, wd 4e-4, 65 epochs, 5 warm-up epochs, drops at 35 and
  55, crop + rotation), optionally with auxiliary losses: loss = CE + the sum of their terms
  (SkeletonGCL: L_ins + L_sem, `sslskel.methods.gcl`).

Auxiliary losses (`sslskel.methods.auxiliary.AuxiliaryLoss`) see the encoder's features, or
its refinement graphs when they ask for them (the encoder is then called with
`return_graphs=True`); their trainable parameters join the optimiser and their state (banks,
generators) the checkpoint. Evaluation puts everything in eval mode and never calls them, so
their state and the inference cost are untouched by testing. Each term is logged by name.

Reproducibility and resume: `FineTuner` is a `Trainer` (`sslskel.engine.trainer`), like
pretraining: with a `run_dir` the checkpoint (encoder, classifier, auxiliary modules,
optimiser, epoch, step, history, every process's RNG state; `kind: finetune`) is written
atomically after every epoch as checkpoints/last.pt, and every `run.checkpoint_every` epochs
as epoch_NNNN.pt, so `finetune(..., resume=True)` continues bit-for-bit where the run
stopped, from the newest periodic checkpoint that loads when last.pt cannot be read. The
learning rate is a pure function of the epoch, the data order and augmentations are seeded
by (seed, epoch, index), auxiliary state lives in the modules' state_dicts.

Choices (not fixed by the papers): the classifier is PyTorch's default nn.Linear init
(CTR-GCN's fc is N(0, sqrt(2 / classes)); CMD's semi-supervised script re-initialises its fc
as N(0, 0.01) with a zero bias); the last batch of an epoch is kept (a 1 % subset can be
smaller than one batch; CTR-GCN's script drops it, CMD's keeps it); evaluation uses the centre crop
of `finetune.eval_ratio`; the logged epoch time (`train_seconds`) is training only (data
loading included, evaluation excluded), so SkeletonGCL's overhead (paper: +2.6 % training
time) can be read off two runs' logs.

Example (see semi_sup/run.py and supervised/run.py for the protocols and SkeletonGCL):
    >>> import numpy as np
    >>> from sslskel.data.container import SkeletonData
    >>> from sslskel.engine.config import load_config
    >>> from sslskel.models import build_encoder
    >>> clips = np.random.default_rng(0).normal(size=(8, 3, 20, 25, 2)).astype(np.float32)
    >>> data = SkeletonData(clips, [20] * 8, [0, 1] * 4, list("abcdefgh"))
    >>> cfg = load_config(None, ["data.frames=16", "data.num_workers=0", "finetune.optim.epochs=2",
    ...                          "finetune.optim.batch_size=4"])
    >>> result = finetune(cfg, build_encoder("gru", hidden_size=8, num_layers=1), data, data,
    ...                   progress=False)
    >>> result["epochs"], result["steps"], sorted(result["history"][-1])
    (2, 4, ['epoch', 'loss', 'loss_ce', 'lr', 'top1', 'top5', 'train_seconds'])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import distributed
from ..common.checkpoint import load_weights
from ..common.features import extract_features
from ..common.io import atomic_write_text
from ..common.knn import topk_accuracy
from ..data.build import build_transform
from ..data.dataset import SkeletonDataset, make_loader
from ..errors import CheckpointError
from ..methods.auxiliary import AuxiliaryLoss
from .loop import LoopSettings
from .optim import GroupOptimizers
from .parallel import prepare_for_processes
from .trainer import Trainer, process_device


def top_k(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Top-1 and top-5 accuracy in %; with fewer than 5 classes top-5 is 100 by definition."""
    out = topk_accuracy(scores, labels, ks=(1, 5) if scores.shape[1] >= 5 else (1,))
    out.setdefault("top5", 100.0)
    return out


class FineTuner(Trainer):
    """State of one fine-tuning run; `finetune` below is the function to call."""

    kind = "finetune"
    label = "fine-tuning"
    required_keys = ("encoder", "classifier", "aux", "optimizers", "epoch", "step", "history", "rng")

    def __init__(self, cfg, encoder: nn.Module, train_data, val_data, run_dir=None,
                 aux_losses: list[AuxiliaryLoss] = (), progress: bool = True,
                 log_prefix: str = "finetune", seed: int | None = None):
        self.ft, self.optim_cfg = cfg.finetune, cfg.finetune.optim
        loop = LoopSettings(process_device(cfg.run.device), amp=cfg.run.amp, progress=progress, prefix=log_prefix)
        super().__init__(cfg, run_dir, loop, epochs=self.optim_cfg.epochs, epochs_key="finetune.optim.epochs",
                         seed=cfg.run.seed if seed is None else seed, name=log_prefix)
        self.prefix = log_prefix
        self.train_data, self.val_data = train_data, val_data
        names = [aux.name for aux in aux_losses]
        if len(set(names)) != len(names):
            raise ValueError(f"auxiliary losses need distinct names, got {names}")
        self.encoder = prepare_for_processes(encoder.to(self.device), self.device)
        self.aux_losses = nn.ModuleList(aux_losses).to(self.device)
        self.needs_graphs = any(aux.needs == "graphs" for aux in aux_losses)
        num_classes = max(int(train_data.num_classes), int(val_data.num_classes))
        torch.manual_seed(self.seed)  # classifier init depends on the run's seed only
        self.classifier = nn.Linear(encoder.feature_dim, num_classes).to(self.device)
        params = [p for m in (self.encoder, self.classifier, *self.aux_losses)
                  for p in m.parameters() if p.requires_grad]
        self.optimizers = GroupOptimizers({"main": params}, self.optim_cfg)
        augment = build_transform(cfg.data, train=True, preset=self.ft.augment, layout=train_data.layout)
        train_set = SkeletonDataset(train_data, augment, seed=self.seed, repeat=self.ft.repeat)
        distributed.local_batch_size(self.optim_cfg.batch_size, "finetune.optim.batch_size")
        self.loader = make_loader(train_set, self.optim_cfg.batch_size, shuffle=True, seed=self.seed,
                                  num_workers=cfg.data.num_workers, device=self.device, distributed=True)
        self.parallel_step = self.parallel(
            nn.ModuleDict({"encoder": self.encoder, "classifier": self.classifier, "aux": self.aux_losses}),
            self.losses)
        self.val_transform = build_transform(cfg.data, train=False, preset=self.ft.eval_augment,
                                             eval_ratio=self.ft.eval_ratio, layout=val_data.layout)
        # for graph-distance predictions (one process): the batches evaluate() uses
        self.val_loader = make_loader(SkeletonDataset(val_data, self.val_transform), self.optim_cfg.batch_size * 4,
                                      shuffle=False, num_workers=cfg.data.num_workers, device=self.device)
        self.num_persons = train_data.shape[3]
        self.history: list[dict] = []

    # -- the checkpoint ---------------------------------------------------------------------
    def checkpoint_parts(self) -> dict:
        return {"encoder": self.encoder.state_dict(), "classifier": self.classifier.state_dict(),
                "aux": {aux.name: aux.state_dict() for aux in self.aux_losses},
                "history": self.history, "seed": self.seed}

    def load_parts(self, state: dict, path: Path) -> None:
        saved, ours = sorted(state["aux"]), sorted(aux.name for aux in self.aux_losses)
        if saved != ours:
            raise CheckpointError(path, "aux", f"the auxiliary losses of this run ({ours or 'none'})",
                                  f"{saved or 'none'}; resume it the way it was trained")
        load_weights(self.encoder, state["encoder"], path, "encoder")
        load_weights(self.classifier, state["classifier"], path, "classifier")
        for aux in self.aux_losses:
            load_weights(aux, state["aux"][aux.name], path, f"aux.{aux.name}")
        self.history = list(state["history"])

    # -- one epoch --------------------------------------------------------------------------
    def losses(self, batch) -> dict[str, torch.Tensor]:
        """{"loss": the total, "loss_ce": cross-entropy, and every auxiliary term by name}."""
        x, lengths = batch.views[0], batch.lengths[:, 0]
        if self.needs_graphs:
            feats, graphs = self.encoder(x, lengths, return_graphs=True)
        else:
            feats, graphs = self.encoder(x, lengths), None
        ce = F.cross_entropy(self.classifier(feats).float(), batch.labels)
        terms, loss = {"loss_ce": ce}, ce
        for aux in self.aux_losses:
            out = aux(graphs if aux.needs == "graphs" else feats, batch.labels,
                      sample_index=batch.index, num_persons=self.num_persons)
            terms.update(out)
            loss = loss + sum(out.values())
        return {"loss": loss, **terms}

    def run_epoch(self) -> dict:
        """Train one epoch: {"lr", the epoch's mean losses, "train_seconds"}."""
        lr = self.optimizers.set_epoch(self.epoch)["main"]
        for module in (self.encoder, self.classifier, self.aux_losses):
            module.train()

        def step_fn(batch, step):
            terms = self.parallel_step(batch)
            return {"main": terms.pop("loss")}, terms

        result = self.run_loader(self.loader, step_fn)
        return {"lr": lr, **result.means, "train_seconds": round(result.seconds, 4)}

    def after_epoch(self, record: dict) -> None:
        """Evaluate on the val split; the epoch's record joins the history and the log."""
        record = {"epoch": self.epoch, **record, **self.evaluate()}
        self.history.append(record)
        self.log({f"{self.prefix}/{k}": v for k, v in record.items() if k != "epoch"}, epoch=self.epoch)

    def evaluate(self) -> dict[str, float]:
        """Top-1 / top-5 on the val split (under torchrun: sharded over the processes)."""
        scores, labels = extract_features(self.encoder, self.val_data, self.val_transform,
                                          batch_size=self.optim_cfg.batch_size * 4, device=self.device,
                                          amp=self.cfg.run.amp, num_workers=self.cfg.data.num_workers,
                                          head=self.classifier)
        return top_k(scores, labels)

    def before_training(self) -> None:
        """Print (and keep in the run directory) what the auxiliary losses adapted to the data."""
        for aux in self.aux_losses:
            if aux.setup_message and self.epoch == 0:
                print(f"{self.prefix}: {aux.setup_message}")
                if self.run_dir is not None:
                    atomic_write_text(self.run_dir / f"{aux.name}_setup.txt", aux.setup_message + "\n")

    def result(self) -> dict:
        if not self.history:
            raise ValueError(f"{self.prefix}: finetune.optim.epochs={self.optim_cfg.epochs}: nothing was trained")
        best = max(self.history, key=lambda h: h["top1"])  # first epoch among equals
        last = self.history[-1]
        return {"final_top1": last["top1"], "final_top5": last["top5"],
                "best_top1": best["top1"], "best_top5": best["top5"], "best_epoch": best["epoch"],
                "epochs": self.epoch, "steps": self.step, "num_train": len(self.train_data),
                "train_seconds": round(sum(h["train_seconds"] for h in self.history), 3),
                "aux_losses": [aux.name for aux in self.aux_losses],
                "setup_messages": {aux.name: aux.setup_message for aux in self.aux_losses
                                   if aux.setup_message},
                "history": self.history}


def finetune(cfg, encoder: nn.Module, train_data, val_data, run_dir=None,
             aux_losses: list[AuxiliaryLoss] = (), progress: bool = True,
             log_prefix: str = "finetune", seed: int | None = None, resume: bool = False):
    """Train `encoder` + a linear classifier on `train_data`, evaluating on `val_data` each epoch.

    Returns dict(final_top1, final_top5, best_top1, best_top5, best_epoch, epochs, steps,
    num_train, train_seconds, aux_losses, setup_messages, history); `encoder` itself holds the
    trained weights afterwards (use `FineTuner` directly to keep the classifier too). `seed`
    (default cfg.run.seed) sets the classifier init, the data order and the augmentations;
    `resume` continues from `run_dir`'s checkpoint (last.pt, or the newest epoch_NNNN.pt
    that loads).
    """
    tuner = FineTuner(cfg, encoder, train_data, val_data, run_dir=run_dir, aux_losses=aux_losses,
                      progress=progress, log_prefix=log_prefix, seed=seed)
    return tuner.fit(resume=resume)
