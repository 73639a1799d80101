"""Linear evaluation: a linear classifier on a frozen encoder (CMD / HaLP protocol).

The encoder runs in eval mode (BatchNorm statistics frozen) under no_grad; training clips
get the linear-eval augmentation (crop ratio U(0.5, 1) resized to the clip length) each
epoch, test clips a 0.95 centre crop, whose features are computed once since the encoder
does not change. Like MoCo's linear script we check at the end that the backbone, BN
statistics included, is bit-for-bit what it was. CMD/HaLP report the best test accuracy
over epochs; we report both the final and the best.

The probe is a `Trainer` without a run directory (`sslskel.engine.trainer`): the same epoch
loop, DDP step and non-finite-loss error as pretraining and fine-tuning, nothing written.

Example:
    result = linear_probe(encoder, train, val, cfg.data, cfg.linear, device="cpu")
    result["final_top1"], result["best_top1"]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import distributed
from ..common.features import extract_features
from ..common.knn import topk_accuracy
from ..data.build import build_transform
from ..data.dataset import SkeletonDataset, make_loader
from ..engine.loop import LoopSettings
from ..engine.optim import GroupOptimizers
from ..engine.trainer import Trainer


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_unchanged(module: nn.Module, reference: dict[str, torch.Tensor]) -> None:
    changed = [k for k, v in module.state_dict().items() if not torch.equal(v, reference[k])]
    if changed:
        raise RuntimeError(f"the frozen encoder changed during linear evaluation: {changed[:5]}")


class LinearProbe(Trainer):
    """A linear classifier trained on a frozen encoder's features, in memory; `linear_probe`
    below is the function to call."""

    def __init__(self, encoder: nn.Module, train_data, val_data, data_cfg, lin_cfg,
                 device: torch.device | str = "cpu", amp: str = "auto", progress: bool = True):
        optim = lin_cfg.optim
        loop = LoopSettings(torch.device(device), amp=amp, progress=progress, prefix="linear")
        super().__init__(None, None, loop, epochs=optim.epochs, epochs_key="linear.optim.epochs",
                         seed=lin_cfg.seed, name="linear")
        self.encoder = encoder.to(self.device).eval()
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        self.reference = snapshot(self.encoder)
        num_classes = max(train_data.num_classes, val_data.num_classes)
        # the encoder is frozen: the val features are computed once
        val_x, self.val_y = extract_features(
            self.encoder, val_data,
            build_transform(data_cfg, train=False, eval_ratio=lin_cfg.eval_ratio, layout=val_data.layout),
            batch_size=optim.batch_size * 4, device=self.device, amp=amp)
        self.val_x = torch.from_numpy(val_x).to(self.device)
        torch.manual_seed(lin_cfg.seed)
        self.classifier = nn.Linear(self.encoder.feature_dim, num_classes).to(self.device)
        nn.init.normal_(self.classifier.weight, std=0.01)
        nn.init.zeros_(self.classifier.bias)
        self.optimizers = GroupOptimizers({"main": list(self.classifier.parameters())}, optim)
        augment = build_transform(data_cfg, train=True, preset=lin_cfg.augment, layout=train_data.layout)
        train_set = SkeletonDataset(train_data, augment, seed=lin_cfg.seed)
        # under torchrun: each process encodes its share of every batch, DDP averages the classifier's gradients
        distributed.local_batch_size(optim.batch_size, "linear.optim.batch_size")
        self.loader = make_loader(train_set, optim.batch_size, shuffle=True, seed=lin_cfg.seed,
                                  num_workers=data_cfg.num_workers, device=self.device, distributed=True)
        self.parallel_step = self.parallel(self.classifier, self.classify)
        self.history: list[dict] = []

    def classify(self, batch) -> tuple[dict[str, torch.Tensor], dict]:
        with torch.no_grad():  # the loop's autocast covers the frozen encoder
            feats = self.encoder(batch.views[0], batch.lengths[:, 0])
        with torch.autocast(self.device.type, enabled=False):  # the classifier trains in fp32
            return {"main": F.cross_entropy(self.classifier(feats.float()), batch.labels)}, {}

    def run_epoch(self) -> dict:
        self.classifier.train()
        result = self.run_loader(self.loader, lambda batch, step: self.parallel_step(batch))
        return {"loss": result.means["loss"]}

    def after_epoch(self, record: dict) -> None:
        with torch.no_grad():
            scores = self.classifier(self.val_x).cpu().numpy()
        self.history.append({"epoch": self.epoch, **record, **topk_accuracy(scores, self.val_y)})

    def result(self) -> dict:
        assert_unchanged(self.encoder, self.reference)
        best = max(self.history, key=lambda h: h["top1"])
        return {
            "final_top1": self.history[-1]["top1"], "final_top5": self.history[-1]["top5"],
            "best_top1": best["top1"], "best_top5": best["top5"], "best_epoch": best["epoch"],
            "epochs": self.epochs, "history": self.history,
        }


def linear_probe(encoder: nn.Module, train_data, val_data, data_cfg, lin_cfg,
                 device: torch.device | str = "cpu", amp: str = "auto",
                 progress: bool = True) -> dict:
    """Train the probe for `lin_cfg.optim.epochs` epochs; returns dict(final_top1, final_top5,
    best_top1, best_top5, best_epoch, epochs, history)."""
    return LinearProbe(encoder, train_data, val_data, data_cfg, lin_cfg, device=device, amp=amp,
                       progress=progress).fit()
