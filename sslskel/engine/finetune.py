"""Whole-network training with labels: semi-supervised fine-tuning and supervised CTR-GCN.

`finetune` trains an encoder plus a linear classifier (nn.Linear(feature_dim, classes)) with
cross-entropy on a (possibly label-subsampled) training split and evaluates on the val split
after every epoch. The same loop serves two protocols:

* semi-supervised (CMD; docs/methods.md, Evaluation protocols): a pretrained encoder, the
  `finetune` section's CMD recipe (SGD lr 0.01, 80 epochs, drops at 50 and 70, linear-eval
  crop), 1-20 % of the labels;
* supervised (SkeletonGCL stage; docs/methods.md, SkeletonGCL): a fresh CTR-GCN and the
  CTR-GCN recipe (SGD nesterov, lr 0.1, wd 4e-4, 65 epochs, 5 warm-up epochs, drops at 35 and
  55, crop + rotation), optionally with a `GraphContrast` module: loss = CE + L_ins + L_sem.

With SkeletonGCL the encoder is called as `encoder(x, lengths, return_graphs=True)`; its
refinement graphs (or its features, for contrast="feature") go to the contrast module, whose
projection FC joins the optimiser. Evaluation puts everything in eval mode and never calls
the contrast module, so the banks and the inference cost are untouched by testing.

Reproducibility and resume: the learning rate is a pure function of the epoch, the data
order and augmentations are seeded by (seed, epoch, index), the banks are buffers of the
contrast module, and with a `run_dir` a checkpoint (encoder, classifier, contrast module,
optimiser, epoch, step, history, RNG states) is written atomically after every epoch, so
`finetune(..., resume=True)` continues bit-for-bit where the run stopped.

`GraphContrast` keeps the state of its random-negative generator in its state_dict (as
extra state), so a resumed SkeletonGCL run draws the negatives it would have drawn.

Choices (not fixed by the papers): the classifier is PyTorch's default nn.Linear init
(CTR-GCN's fc is N(0, sqrt(2 / classes)); CMD's semi-supervised script re-initialises its fc
as N(0, 0.01) with a zero bias); the last batch of an epoch is kept (a 1 % subset can be
smaller than one batch; CTR-GCN's script drops it, CMD's keeps it); evaluation uses the centre crop
of `finetune.eval_ratio`; the logged epoch time (`train_seconds`) is training only (data
loading included, evaluation excluded), so SkeletonGCL's overhead (paper: +2.6 % training
time) can be read off two runs' logs.

Example (see semi_sup/run.py for the protocols and SkeletonGCL):
    >>> import numpy as np
    >>> from sslskel.data.container import SkeletonData
    >>> from sslskel.engine.config import load_config
    >>> from sslskel.models import build_encoder
    >>> clips = np.random.default_rng(0).normal(size=(8, 3, 20, 25, 2)).astype(np.float32)
    >>> data = SkeletonData(clips, [20] * 8, [0, 1] * 4, list("abcdefgh"))
    >>> cfg = load_config(None, ["data.frames=16", "data.num_workers=0", "finetune.epochs=2",
    ...                          "finetune.batch_size=4"])
    >>> result = finetune(cfg, build_encoder("gru", hidden_size=8, num_layers=1), data, data,
    ...                   progress=False)
    >>> result["epochs"], result["steps"], sorted(result["history"][-1])
    (2, 4, ['epoch', 'loss', 'loss_ce', 'lr', 'top1', 'top5', 'train_seconds'])
"""

from __future__ import annotations

import inspect
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..data.build import build_transform, resolve_layout
from ..data.dataset import SkeletonDataset, make_loader, set_loader_epoch
from ..data.layouts import get_layout
from ..methods.gcl import GraphContrast, average_graphs
from ..models import ENCODERS, encoder_class
from ..common.checkpoint import capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint
from ..common.device import autocast, resolve_device
from ..common.io import atomic_write_text
from ..common.knn import topk_accuracy
from ..common.schedule import set_lr, step_lr
from .config import to_dict
from .run_log import RunLogger, truncate_metrics
from .trainer import build_optimizer


# --------------------------------------------------------------------------- graphs & GCL

def returns_graphs(encoder: nn.Module | type) -> bool:
    """Whether the encoder's (or encoder class's) forward takes `return_graphs`."""
    return "return_graphs" in inspect.signature(encoder.forward).parameters


def graph_encoders() -> list[str]:
    """Names of the registered encoders that can return graphs."""
    return sorted(name for name in ENCODERS if returns_graphs(encoder_class(name)))


def require_graphs(encoder: nn.Module | type, what: str = "SkeletonGCL (--gcl)") -> None:
    """Raise a ValueError naming the encoder when it cannot return refinement graphs."""
    if not returns_graphs(encoder):
        name = encoder.__name__ if isinstance(encoder, type) else type(encoder).__name__
        raise ValueError(f"{what} needs the encoder's refinement graphs, but encoder {name} "
                         f"returns none (its forward has no return_graphs argument); encoders that "
                         f"support it: {', '.join(graph_encoders())} (set encoder.name)"
                         + (", or use gcl.contrast=feature" if "GCL" in what else ""))


def build_graph_contrast(cfg, encoder: nn.Module, train_data, seed: int | None = None):
    """The `GraphContrast` module of `cfg.gcl` for this encoder and training (sub)set.

    P (instance slots per class) is capped at the smallest training class size; the message
    is kept in `.cap_message` (finetune prints and logs it).
    """
    g = cfg.gcl
    if g.contrast == "graph":
        require_graphs(encoder)
    num_classes = int(train_data.num_classes)
    counts = np.bincount(train_data.labels, minlength=num_classes)
    return GraphContrast(
        num_classes=num_classes, num_joints=get_layout(train_data.layout).num_joints,
        per_class=g.per_class, dim=g.dim, temperature=g.temperature,
        semantic_momentum=g.semantic_momentum, num_hard_positives=g.num_hard_positives,
        num_hard_negatives=g.num_hard_negatives, num_random_negatives=g.num_random_negatives,
        variant=g.variant, contrast=g.contrast, feature_dim=encoder.feature_dim,
        class_counts=counts, num_samples=len(train_data),
        seed=cfg.run.seed if seed is None else seed)


# --------------------------------------------------------------------------- evaluation

@torch.no_grad()
def predict(encoder: nn.Module, classifier: nn.Module, loader, device: torch.device, amp: str,
            graphs: bool = False) -> dict[str, np.ndarray]:
    """Scores (N, classes) and labels in data order; with `graphs`, also the person- and
    channel-averaged, flattened refinement graphs (N, K*V*V) (SkeletonGCL Tab. 9 input)."""
    encoder.eval()
    classifier.eval()
    scores, labels, flat = [], [], []
    for batch in loader:
        x, lengths = batch["views"][0].to(device), batch["lengths"][:, 0].to(device)
        with autocast(device, amp):
            if graphs:
                feats, g = encoder(x, lengths, return_graphs=True)
                flat.append(average_graphs(g.float(), g.shape[0] // x.shape[0]).cpu())
            else:
                feats = encoder(x, lengths)
            logits = classifier(feats.float())
        scores.append(logits.float().cpu())
        labels.append(batch["label"])
    out = {"scores": torch.cat(scores).numpy(), "labels": torch.cat(labels).numpy()}
    if graphs:
        out["graphs"] = torch.cat(flat).numpy()
    return out


def top_k(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Top-1 and top-5 accuracy in %; with fewer than 5 classes top-5 is 100 by definition."""
    out = topk_accuracy(scores, labels, ks=(1, 5) if scores.shape[1] >= 5 else (1,))
    out.setdefault("top5", 100.0)
    return out


# --------------------------------------------------------------------------- the loop

class FineTuner:
    """State of one fine-tuning run; `finetune` below is the function to call."""

    def __init__(self, cfg, encoder: nn.Module, train_data, val_data, run_dir=None, gcl=None,
                 progress: bool = True, log_prefix: str = "finetune", seed: int | None = None):
        self.cfg, self.ft = cfg, cfg.finetune
        resolve_layout(cfg.data, train_data)
        self.seed = cfg.run.seed if seed is None else seed
        self.device = resolve_device(cfg.run.device)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.progress, self.prefix = progress, log_prefix
        self.train_data, self.val_data = train_data, val_data
        if gcl is not None and gcl.contrast == "graph":
            require_graphs(encoder)
        self.encoder = encoder.to(self.device)
        self.gcl = gcl.to(self.device) if gcl is not None else None
        num_classes = max(int(train_data.num_classes), int(val_data.num_classes))
        torch.manual_seed(self.seed)  # classifier init depends on the run's seed only
        self.classifier = nn.Linear(encoder.feature_dim, num_classes).to(self.device)
        params = [p for m in (self.encoder, self.classifier, self.gcl) if m is not None
                  for p in m.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(params, self.ft)
        train_set = SkeletonDataset(train_data, build_transform(cfg.data, train=True, preset=self.ft.augment),
                                    seed=self.seed)
        self.loader = make_loader(train_set, self.ft.batch_size, shuffle=True, seed=self.seed,
                                  num_workers=cfg.data.num_workers, device=self.device)
        val_set = SkeletonDataset(val_data, build_transform(cfg.data, train=False,
                                                            eval_ratio=self.ft.eval_ratio))
        self.val_loader = make_loader(val_set, self.ft.batch_size * 4, shuffle=False,
                                      num_workers=cfg.data.num_workers, device=self.device)
        self.num_persons = train_data.shape[3]
        self.epoch, self.step, self.history = 0, 0, []

    # -- checkpoints ------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / "checkpoints" / "last.pt"

    def state(self) -> dict:
        return {"version": 1, "kind": "finetune", "encoder": self.encoder.state_dict(),
                "classifier": self.classifier.state_dict(),
                "gcl": self.gcl.state_dict() if self.gcl is not None else None,
                "optimizer": self.optimizer.state_dict(), "epoch": self.epoch, "step": self.step,
                "history": self.history, "seed": self.seed, "rng": capture_rng_state(),
                "config": to_dict(self.cfg)}

    def load(self, path: Path) -> None:
        state = load_checkpoint(path, map_location=self.device)
        if state.get("kind") != "finetune":
            raise ValueError(f"{path}: not a fine-tuning checkpoint (no 'kind: finetune')")
        if (state["gcl"] is None) != (self.gcl is None):
            raise ValueError(f"{path}: the run was trained {'with' if state['gcl'] else 'without'} "
                             "SkeletonGCL; resume it the same way")
        self.encoder.load_state_dict(state["encoder"])
        self.classifier.load_state_dict(state["classifier"])
        if self.gcl is not None:
            self.gcl.load_state_dict(state["gcl"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.step, self.history = state["epoch"], state["step"], state["history"]
        restore_rng_state(state["rng"])
        truncate_metrics(self.run_dir, self.step)

    # -- training ---------------------------------------------------------------------------
    def train_epoch(self, lr: float) -> dict[str, float]:
        self.encoder.train()
        self.classifier.train()
        if self.gcl is not None:
            self.gcl.train()
        set_loader_epoch(self.loader, self.epoch)
        set_lr(self.optimizer, lr)
        sums = {"loss": 0.0, "loss_ce": 0.0, "loss_instance": 0.0, "loss_semantic": 0.0}
        seen = 0
        bar = tqdm(self.loader, desc=f"{self.prefix} epoch {self.epoch + 1}/{self.ft.epochs}",
                   disable=not self.progress, leave=False, dynamic_ncols=True)
        for batch in bar:
            x = batch["views"][0].to(self.device, non_blocking=True)
            lengths = batch["lengths"][:, 0].to(self.device)
            labels = batch["label"].to(self.device)
            with autocast(self.device, self.cfg.run.amp):
                terms = self.losses(x, lengths, labels, batch["index"])
            loss = terms["loss"]
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{self.prefix}: loss is {loss.item()} at epoch "
                                         f"{self.epoch}, step {self.step}")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.step += 1
            n = x.shape[0]
            seen += n
            for key, value in terms.items():
                sums[key] += float(value.detach()) * n
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}", lr=f"{lr:.2g}")
        return {k: v / max(seen, 1) for k, v in sums.items()}

    def losses(self, x, lengths, labels, index) -> dict[str, torch.Tensor]:
        if self.gcl is None:
            feats = self.encoder(x, lengths)
            ce = F.cross_entropy(self.classifier(feats).float(), labels)
            return {"loss": ce, "loss_ce": ce}
        if self.gcl.contrast == "graph":
            feats, graphs = self.encoder(x, lengths, return_graphs=True)
            contrast_input = graphs
        else:
            feats = self.encoder(x, lengths)
            contrast_input = feats
        ce = F.cross_entropy(self.classifier(feats).float(), labels)
        out = self.gcl(contrast_input, labels, num_persons=self.num_persons,
                       sample_index=index.to(self.device))
        return {"loss": ce + out["loss"], "loss_ce": ce, "loss_instance": out["loss_instance"],
                "loss_semantic": out["loss_semantic"]}

    def evaluate(self) -> dict[str, float]:
        pred = predict(self.encoder, self.classifier, self.val_loader, self.device, self.cfg.run.amp)
        return top_k(pred["scores"], pred["labels"])

    def fit(self, resume: bool = False) -> dict:
        if resume:
            if self.run_dir is None:
                raise ValueError("resume needs the run_dir holding checkpoints/last.pt")
            self.load(self.checkpoint_path)
        logger = RunLogger(self.run_dir) if self.run_dir is not None else None
        message = getattr(self.gcl, "cap_message", None)
        if message and self.epoch == 0:
            print(f"{self.prefix}: {message}")
            if logger is not None:
                atomic_write_text(self.run_dir / "gcl_cap.txt", message + "\n")
        try:
            while self.epoch < self.ft.epochs:
                lr = step_lr(self.ft.lr, self.epoch, self.ft.milestones, self.ft.gamma,
                             self.ft.warmup_epochs)
                start = time.perf_counter()
                train = self.train_epoch(lr)
                train_seconds = time.perf_counter() - start
                acc = self.evaluate()
                self.epoch += 1
                record = {"epoch": self.epoch, "lr": lr, **train,
                          "train_seconds": round(train_seconds, 4), **acc}
                if self.gcl is None:
                    for key in ("loss_instance", "loss_semantic"):
                        record.pop(key)
                self.history.append(record)
                if logger is not None:
                    logger.log({f"{self.prefix}/{k}": v for k, v in record.items() if k != "epoch"},
                               step=self.step, epoch=self.epoch)
                    save_checkpoint(self.checkpoint_path, self.state())
        except KeyboardInterrupt:
            if self.run_dir is not None:
                print(f"\ninterrupted: {self.checkpoint_path} holds epoch {self.epoch}")
            raise
        finally:
            if logger is not None:
                logger.close()
        return self.summary()

    def summary(self) -> dict:
        if not self.history:
            raise ValueError(f"{self.prefix}: finetune.epochs={self.ft.epochs}: nothing was trained")
        best = max(self.history, key=lambda h: h["top1"])  # first epoch among equals
        last = self.history[-1]
        return {"final_top1": last["top1"], "final_top5": last["top5"],
                "best_top1": best["top1"], "best_top5": best["top5"], "best_epoch": best["epoch"],
                "epochs": self.epoch, "steps": self.step, "num_train": len(self.train_data),
                "train_seconds": round(sum(h["train_seconds"] for h in self.history), 3),
                "gcl": self.gcl is not None,
                "gcl_cap_message": getattr(self.gcl, "cap_message", None),
                "history": self.history}


def finetune(cfg, encoder: nn.Module, train_data, val_data, run_dir=None, gcl=None,
             progress: bool = True, log_prefix: str = "finetune", seed: int | None = None,
             resume: bool = False):
    """Train `encoder` + a linear classifier on `train_data`, evaluating on `val_data` each epoch.

    Returns dict(final_top1, final_top5, best_top1, best_top5, best_epoch, epochs, steps,
    num_train, train_seconds, gcl, gcl_cap_message, history); `encoder` itself holds the
    trained weights afterwards (use `FineTuner` directly to keep the classifier too). `seed`
    (default cfg.run.seed) sets the classifier init, the data order and the augmentations;
    `resume` continues from `run_dir`/checkpoints/last.pt.
    """
    tuner = FineTuner(cfg, encoder, train_data, val_data, run_dir=run_dir, gcl=gcl,
                      progress=progress, log_prefix=log_prefix, seed=seed)
    return tuner.fit(resume=resume)
