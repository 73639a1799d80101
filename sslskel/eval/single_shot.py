"""CV-MIM's single-shot cross-view protocol: train a classifier on one camera, test on all.

The training split is cut into parts, one per (camera, replication) present (NTU and the
synthetic set: names `SsssCcccPpppRrrrAaaa`; NTU60 xsub gives C1R1 ... C3R2), or one per
camera for NW-UCLA (`file_format == "ucla"`, where replication is the episode; parts V1, V2,
V3). For every part a fresh classifier is trained on that part alone and tested on the
WHOLE test split; the result lists each part and the mean over parts.

The representation (`representation_of`):
- a method that splits pose and view (`splits_pose_and_view`, CV-MIM): its pose embedding z_p;
- a method with `per_frame` True (CV-MIM on the per-frame encoder pose_mlp): the per-frame
  z_p of the valid frames, padded to the clip length by repetition (`pad_by_repetition`);
- anything else (the encoder of a MoCo or HaLP run): the encoder's features.
Clips are the linear protocol's test clips (centre crop `linear.eval_ratio` resized to
`data.frames`), computed once: the frozen representation does not change, so training
clips are not re-augmented every epoch (unlike `sslskel.eval.linear`).

The classifier: on clip features, a Linear layer (init N(0, 0.01), zero bias) trained with
`linear.optim` (SGD and its schedule); on per-frame sequences, the authors' temporal 1-D ResNet
(`sslskel.eval.temporal_resnet`) trained with Adam lr 1e-3, batch 64, no weight decay, for
`linear.optim.epochs` epochs. Both train through `sslskel.engine.loop.train_epoch`; every part
starts from the seed `linear.seed`. Each part reports the final and the best (over epochs)
top-1 / top-5 on the test split, as the linear protocol does.

`classes` (optional 0-based class ids) keeps only those classes in both splits, relabelled
0..len(classes)-1 in the given order (NTU: the 49 single-person classes A1-A49 = ids 0..48).

Example:
    >>> import numpy as np
    >>> from sslskel.data.container import SkeletonData, ntu_meta_from_names
    >>> names = [f"S001C00{c}P001R00{r}A001" for c, r in ((1, 1), (2, 1), (1, 2), (1, 1))]
    >>> d = SkeletonData(np.zeros((4, 3, 5, 25, 1), np.float32), [5] * 4, [0] * 4, names,
    ...                  meta=ntu_meta_from_names(names))
    >>> [(name, idx.tolist()) for name, idx in single_shot_parts(d)]
    [('C1R1', [0, 3]), ('C1R2', [2]), ('C2R1', [1])]
    >>> import torch
    >>> pad_by_repetition(torch.arange(5.).view(1, 5, 1), torch.tensor([2]))[0, :, 0].tolist()
    [0.0, 1.0, 0.0, 1.0, 0.0]
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..common.features import extract_features
from ..common.knn import topk_accuracy
from ..data.batch import Batch
from ..data.build import build_transform
from ..engine.config import OptimConfig
from ..engine.loop import LoopSettings, train_epoch
from ..engine.optim import GroupOptimizers
from ..errors import UserError
from .temporal_resnet import TemporalResNet

# the authors' temporal classifier's optimiser (poem/cv_mim/action_recognition)
RESNET_LR, RESNET_BATCH = 1e-3, 64


# -- parts -------------------------------------------------------------------------------------
def require_camera_meta(data, fields=("camera",), where: str = "") -> None:
    """A UserError unless every sample of `data` has a known (not -1) value of each field."""
    for key in fields:
        values = np.asarray(data.meta.get(key, np.full(len(data), -1)))
        unknown = np.flatnonzero(values < 0)
        if len(unknown):
            raise UserError(where or data.source or "data", f"meta.{key}",
                            f"the {key} of every sample, from NTU-style names SsssCcccPpppRrrrAaaa "
                            "or NW-UCLA files aAA_sSS_eEE_vVV (the protocol sorts samples by camera)",
                            f"no camera metadata: {key} unknown for {len(unknown)} of {len(data)} samples "
                            f"(e.g. {data.names[unknown[0]]!r})")


def single_shot_parts(data, file_format: str | None = None) -> list[tuple[str, np.ndarray]]:
    """[(name, sample indices)] of the training split, sorted by camera then replication."""
    ucla = (file_format or data.file_format) == "ucla"
    fields = ("camera",) if ucla else ("camera", "replication")
    require_camera_meta(data, fields, where=f"{data.source or 'data'} (training split)")
    camera = np.asarray(data.meta["camera"])
    if ucla:  # one view each: replication is NW-UCLA's episode, not a recording pass
        return [(f"V{c}", np.flatnonzero(camera == c)) for c in np.unique(camera)]
    replication = np.asarray(data.meta["replication"])
    pairs = np.unique(np.stack([camera, replication], 1), axis=0)
    return [(f"C{c}R{r}", np.flatnonzero((camera == c) & (replication == r))) for c, r in pairs]


def check_kept_classes(classes, train, val, where: str = "linear.classes") -> None:
    """Before anything trains: each id of `classes` is one of the data's, and the classes kept
    leave two with training samples and some test sample; UserError naming `where` otherwise."""
    num_classes = max(train.num_classes, val.num_classes)
    bad = sorted({int(c) for c in classes if not 0 <= int(c) < num_classes})
    if bad:
        raise UserError(where, "class ids", f"0-based ids in [0, {num_classes - 1}] (the data's classes)", str(bad))
    kept = np.unique(np.asarray(train.labels)[np.isin(train.labels, classes)])
    if len(kept) < 2 or not np.isin(val.labels, classes).any():
        raise UserError(where, "class ids", "at least two classes with training samples, and test samples",
                        f"{sorted({int(c) for c in classes})}: {len(kept)} with training samples, "
                        f"{int(np.isin(val.labels, classes).sum())} test samples")


def keep_classes(data, classes):
    """The samples of `data` whose label is in `classes`, relabelled by position in it."""
    classes = [int(c) for c in classes]
    position = {c: i for i, c in enumerate(classes)}
    sub = data.subset(np.isin(data.labels, classes))
    labels = np.array([position[int(y)] for y in sub.labels], np.int64)
    return replace(sub, labels=labels, num_classes=len(classes), index=sub.index)


# -- representations ---------------------------------------------------------------------------
def pad_by_repetition(seq: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """(N, T, D) with frame t of sample i replaced by frame t mod lengths[i] (the valid frames
    repeated to fill the clip, as the authors pad clips)."""
    if lengths is None:
        return seq
    t = torch.arange(seq.shape[1], device=seq.device)
    idx = t[None] % lengths.to(seq.device).clamp(min=1).long()[:, None]
    return torch.gather(seq, 1, idx[..., None].expand(-1, -1, seq.shape[2]))


class PoseEmbedding(nn.Module):
    """z_p of a method with `embed`, as an encoder (x, lengths) -> (N, d_p)."""

    def __init__(self, method: nn.Module):
        super().__init__()
        self.method = method

    def forward(self, x, lengths=None):
        return self.method.embed(x, lengths)[0]


class FramePoseEmbedding(PoseEmbedding):
    """Per-frame z_p (N, T, d_p) of a per-frame method, padded by repetition."""

    def forward(self, x, lengths=None):
        return pad_by_repetition(self.method.frame_pose_embeddings(x, lengths), lengths)


def representation_of(model: nn.Module) -> tuple[nn.Module, str]:
    """(module (x, lengths) -> features, its description); see the module docstring."""
    if getattr(model, "per_frame", False) and hasattr(model, "frame_pose_embeddings"):
        return FramePoseEmbedding(model), "per-frame z_p"
    if getattr(model, "splits_pose_and_view", False):  # `embed` gives (z_p, z_v) (other methods' embed differs)
        return PoseEmbedding(model), "z_p"
    if hasattr(model, "training_step"):  # a method without embeddings: its encoder
        return model.encoder, "encoder features"
    return model, "encoder features"


def clip_features(module: nn.Module, data, data_cfg, eval_ratio: float, device, amp: str,
                  batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """(features, labels) of `data`'s centre-crop clips, as float32 / int64 tensors on the CPU."""
    transform = build_transform(data_cfg, train=False, eval_ratio=eval_ratio, layout=data.layout)
    x, y = extract_features(module, data, transform, batch_size=batch_size, device=device, amp=amp)
    return torch.from_numpy(x), torch.from_numpy(y).long()


# -- training one classifier -------------------------------------------------------------------
def feature_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int, epoch: int) -> list[Batch]:
    """The epoch's shuffled mini-batches of precomputed features (order from (seed, epoch))."""
    order = torch.from_numpy(np.random.default_rng([seed, epoch]).permutation(len(y)))
    batches = []
    for chunk in order.split(batch_size):
        chunk = chunk.to(x.device)
        n = len(chunk)
        batches.append(Batch(views=[x[chunk]], lengths=torch.ones(n, 1, dtype=torch.long, device=x.device),
                             labels=y[chunk], index=chunk))
    return batches


@torch.no_grad()
def predict(classifier: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> np.ndarray:
    classifier.eval()
    return torch.cat([classifier(part).float().cpu() for part in x.split(batch_size)]).numpy()


def train_classifier(classifier: nn.Module, train_x, train_y, test_x, test_y, optim: OptimConfig, *,
                     seed: int, device, progress: bool = False, desc: str = "") -> dict:
    """Train `classifier` on (train_x, train_y), testing on the test set after every epoch;
    final and best top-1 / top-5 and the history."""
    device = torch.device(device)
    classifier = classifier.to(device)
    train_x, train_y = train_x.to(device), train_y.to(device)
    test_x, test_labels = test_x.to(device), test_y.numpy()
    optimizers = GroupOptimizers({"main": list(classifier.parameters())}, optim)

    def step_fn(batch, step):
        return {"main": F.cross_entropy(classifier(batch.views[0]), batch.labels)}, {}

    loop = LoopSettings(device=device, amp="off", progress=progress, prefix="single_shot")
    history, step = [], 0
    for epoch in range(optim.epochs):
        classifier.train()
        batches = feature_batches(train_x, train_y, optim.batch_size, seed, epoch)
        result = train_epoch(batches, step_fn, optimizers, loop, epoch=epoch, step=step,
                             desc=f"{desc} epoch {epoch + 1}/{optim.epochs}")
        step = result.steps
        history.append({"epoch": epoch + 1, "loss": result.means["loss"],
                        **topk_accuracy(predict(classifier, test_x), test_labels)})
    best = max(history, key=lambda h: h["top1"])
    return {"final_top1": history[-1]["top1"], "final_top5": history[-1]["top5"],
            "best_top1": best["top1"], "best_top5": best["top5"], "best_epoch": best["epoch"],
            "history": history}


def resnet_optim(lin_optim: OptimConfig) -> OptimConfig:
    """Adam lr 1e-3, batch 64, no decay (the authors'), for `linear.optim.epochs` epochs."""
    return OptimConfig(optimizer="adam", lr=RESNET_LR, weight_decay=0.0, batch_size=RESNET_BATCH,
                       epochs=lin_optim.epochs, milestones=[])


# -- the protocol ------------------------------------------------------------------------------
def single_shot(cfg, model: nn.Module, train, val, classes=None, device="cpu", amp: str = "auto",
                progress: bool = True) -> dict:
    """The protocol on a method with `embed` or on an encoder (see the module docstring)."""
    if classes is not None:
        train, val = keep_classes(train, classes), keep_classes(val, classes)
    parts = single_shot_parts(train)
    num_classes = len(classes) if classes is not None else max(train.num_classes, val.num_classes)
    module, kind = representation_of(model)
    module = module.to(device).eval()
    lin = cfg.linear
    kw = dict(eval_ratio=lin.eval_ratio, device=device, amp=amp, batch_size=lin.optim.batch_size * 4)
    train_x, train_y = clip_features(module, train, cfg.data, **kw)
    test_x, test_y = clip_features(module, val, cfg.data, **kw)
    per_frame = train_x.ndim == 3
    optim = resnet_optim(lin.optim) if per_frame else lin.optim

    results = []
    for name, idx in parts:
        torch.manual_seed(lin.seed)  # every part starts from the same classifier
        if per_frame:
            classifier = TemporalResNet(train_x.shape[2], num_classes)
        else:
            classifier = nn.Linear(train_x.shape[1], num_classes)
            nn.init.normal_(classifier.weight, std=0.01)
            nn.init.zeros_(classifier.bias)
        idx_t = torch.from_numpy(idx)
        result = train_classifier(classifier, train_x[idx_t], train_y[idx_t], test_x, test_y, optim,
                                  seed=lin.seed, device=device, progress=progress, desc=f"single-shot {name}")
        results.append({"part": name, "train_samples": int(len(idx)), **result})

    def mean(key):
        return float(np.mean([r[key] for r in results]))

    return {
        "parts": results,
        **{f"mean_{k}": mean(k) for k in ("final_top1", "final_top5", "best_top1", "best_top5")},
        "test_samples": int(len(test_y)), "num_classes": int(num_classes),
        "classes": None if classes is None else [int(c) for c in classes],
        "representation": kind, "classifier": "temporal_resnet" if per_frame else "linear",
        "optimizer": optim.optimizer, "lr": optim.lr, "batch_size": optim.batch_size, "epochs": optim.epochs,
    }


def format_single_shot(result: dict) -> list[tuple[str, float, float | None]]:
    """Table rows (name, top-1, top-5) of `single_shot`'s result: each part's final, then the mean."""
    rows = [(f"single-shot {r['part']} (n={r['train_samples']})", r["final_top1"], r["final_top5"])
            for r in result["parts"]]
    rows.append((f"single-shot mean of {len(result['parts'])} (final)", result["mean_final_top1"],
                 result["mean_final_top5"]))
    rows.append(("single-shot mean of best", result["mean_best_top1"], result["mean_best_top5"]))
    return rows
