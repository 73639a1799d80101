"""Linear evaluation: a linear classifier on a frozen encoder (CMD / HaLP protocol).

The encoder runs in eval mode (BatchNorm statistics frozen) under no_grad; training clips
get the linear-eval augmentation (crop ratio U(0.5, 1) resized to the clip length) each
epoch, test clips a 0.95 centre crop, whose features are computed once since the encoder
does not change. Like MoCo's linear script we check at the end that the backbone, BN
statistics included, is bit-for-bit what it was. CMD/HaLP report the best test accuracy
over epochs; we report both the final and the best.

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
from ..data.build import build_transform, resolve_layout
from ..data.dataset import SkeletonDataset, make_loader
from ..engine.loop import train_epoch
from ..engine.optim import GroupOptimizers
from ..engine.parallel import ParallelStep


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_unchanged(module: nn.Module, reference: dict[str, torch.Tensor]) -> None:
    changed = [k for k, v in module.state_dict().items() if not torch.equal(v, reference[k])]
    if changed:
        raise RuntimeError(f"the frozen encoder changed during linear evaluation: {changed[:5]}")


def linear_probe(encoder: nn.Module, train_data, val_data, data_cfg, lin_cfg,
                 device: torch.device | str = "cpu", amp: str = "auto",
                 progress: bool = True) -> dict:
    device = torch.device(device)
    optim = lin_cfg.optim
    resolve_layout(data_cfg, train_data)
    encoder = encoder.to(device).eval()
    for p in encoder.parameters():
        p.requires_grad_(False)
    reference = snapshot(encoder)
    num_classes = max(train_data.num_classes, val_data.num_classes)

    val_x, val_y = extract_features(encoder, val_data,
                                    build_transform(data_cfg, train=False, eval_ratio=lin_cfg.eval_ratio),
                                    batch_size=optim.batch_size * 4, device=device, amp=amp)
    val_x = torch.from_numpy(val_x).to(device)

    torch.manual_seed(lin_cfg.seed)
    classifier = nn.Linear(encoder.feature_dim, num_classes).to(device)
    nn.init.normal_(classifier.weight, std=0.01)
    nn.init.zeros_(classifier.bias)
    optimizers = GroupOptimizers({"main": list(classifier.parameters())}, optim)
    train_set = SkeletonDataset(train_data, build_transform(data_cfg, train=True, preset=lin_cfg.augment),
                                seed=lin_cfg.seed)
    # under torchrun: each process encodes its share of every batch, DDP averages the classifier's gradients
    distributed.local_batch_size(optim.batch_size, "linear.optim.batch_size")
    loader = make_loader(train_set, optim.batch_size, shuffle=True, seed=lin_cfg.seed,
                         num_workers=data_cfg.num_workers, device=device, distributed=True)

    def classify(batch):
        with torch.no_grad():  # the loop's autocast covers the frozen encoder
            feats = encoder(batch.views[0], batch.lengths[:, 0])
        with torch.autocast(device.type, enabled=False):  # the classifier trains in fp32
            return {"main": F.cross_entropy(classifier(feats.float()), batch.labels)}, {}

    parallel_step = ParallelStep(classifier, classify, device)

    def step_fn(batch, step):
        return parallel_step(batch)

    history, step = [], 0
    for epoch in range(optim.epochs):
        classifier.train()
        result = train_epoch(loader, step_fn, optimizers, epoch=epoch, step=step, device=device, amp=amp,
                             desc=f"linear epoch {epoch + 1}/{optim.epochs}", progress=progress,
                             prefix="linear")
        step = result.steps
        with torch.no_grad():
            scores = classifier(val_x).cpu().numpy()
        history.append({"epoch": epoch + 1, "loss": result.means["loss"], **topk_accuracy(scores, val_y)})

    assert_unchanged(encoder, reference)
    best = max(history, key=lambda h: h["top1"])
    return {
        "final_top1": history[-1]["top1"], "final_top5": history[-1]["top5"],
        "best_top1": best["top1"], "best_top5": best["top5"], "best_epoch": best["epoch"],
        "epochs": optim.epochs, "history": history,
    }
