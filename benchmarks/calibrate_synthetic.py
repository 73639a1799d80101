"""Calibrate the synthetic dataset: is it learnable, but not trivially?

Measures on the cached (pre-normalised, CMD layout) synthetic data:
1. supervised xsub: BiGRUEncoder(hidden_size=128, num_layers=2) + linear classifier trained
   end to end (Adam) on random crops (ratio U(0.5, 1) of the valid frames) resized to 64
   frames; tested on centre crops (ratio 0.95) resized to 64 frames;
2. supervised xview: the same on the cross-view split;
3. raw kNN (xsub): k = 1, cosine, on the flattened centre-cropped coordinates;
   pooled kNN: the same on the per-joint mean and std over time (no temporal order), which
   tells how much of the raw match is the static pose distribution;
4. random-init linear probe (xsub): a linear classifier on the frozen features of a randomly
   initialised encoder of the same size (BatchNorm in eval mode, as in linear evaluation);
5. with --pretrain-epochs N: a short MoCo run (configs/synthetic/moco.yaml, N epochs) and its
   online kNN k = 1 (xsub), to check that self-supervised pretraining can still learn.

A fair stand-in wants 1 high but not perfect (85-97 %), 3 and 4 far below 1 (4 by at least
25 points) and 5 well above the random encoder's kNN. Runs on one CPU thread in about 3
minutes with 16 epochs (+1.5 minutes for xview, +1.5 for 15 pretraining epochs); prints one
JSON object (accuracies in %, per-epoch test accuracy of the supervised runs in *_history).
`--set KEY=VALUE` changes a `SyntheticConfig` field (value read as YAML), which is how the
sweep in the README was made.

Measured (default config, GENERATOR_VERSION 3, --epochs 16 --seed 0): see `CALIBRATION` in
sslskel/data/synthetic/ and README "Synthetic data".

Example:
    python benchmarks/calibrate_synthetic.py --epochs 16
    python benchmarks/calibrate_synthetic.py --skip-xview --pretrain-epochs 15 --set manner_scale=1.0
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sslskel.data.synthetic import SyntheticConfig, ensure_synthetic  # noqa: E402
from sslskel.models.gru import BiGRUEncoder  # noqa: E402

CLIP = 64


def load_cmd(directory, split):
    data = np.load(directory / f"{split}_data_joint.npy")
    lengths = np.load(directory / f"{split}_num_frame.npy")
    with open(directory / f"{split}_label.pkl", "rb") as f:
        _, labels = pickle.load(f)
    return torch.from_numpy(data), torch.from_numpy(lengths), torch.tensor(labels)


def crop_resize(x: torch.Tensor, lengths: torch.Tensor, ratio: torch.Tensor, start: torch.Tensor,
                size: int = CLIP) -> torch.Tensor:
    """Crop [start, start + ratio * length) of each (C, T, V, M) sample and resample it to
    `size` frames by linear interpolation. start is a fraction of the room left."""
    n, c, t, v, m = x.shape
    span = (ratio * lengths).clamp(min=1.0)
    first = start * (lengths - span)
    pos = first[:, None] + torch.linspace(0, 1, size)[None] * (span - 1).clamp(min=0)[:, None]
    lo = pos.floor().long().clamp(0, t - 1)
    hi = (lo + 1).clamp(max=(lengths - 1)[:, None].long())
    w = (pos - lo.float())[:, None, :, None, None]
    idx = lambda i: i[:, None, :, None, None].expand(n, c, size, v, m)  # noqa: E731
    return torch.gather(x, 2, idx(lo)) * (1 - w) + torch.gather(x, 2, idx(hi)) * w


def train_crop(x, lengths, gen):
    n = len(x)
    ratio = torch.empty(n).uniform_(0.5, 1.0, generator=gen)
    return crop_resize(x, lengths.float(), ratio, torch.rand(n, generator=gen))


def center_crop(x, lengths):
    n = len(x)
    return crop_resize(x, lengths.float(), torch.full((n,), 0.95), torch.full((n,), 0.5))


class Classifier(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.encoder = BiGRUEncoder(hidden_size=128, num_layers=2)
        self.fc = nn.Linear(self.encoder.feature_dim, num_classes)

    def forward(self, x):
        return self.fc(self.encoder(x))


def accuracy(model, x, batch=256):
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch]).argmax(1) for i in range(0, len(x), batch)])


def supervised(directory, epochs, seed, lr=2e-3, batch=64):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x, lengths, y = load_cmd(directory, "train")
    xt, lt, yt = load_cmd(directory, "val")
    model = Classifier(int(max(y.max(), yt.max())) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((len(x) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.15)
    test = center_crop(xt, lt)
    history = []
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            rows = order[i:i + batch]
            loss = nn.functional.cross_entropy(model(train_crop(x[rows], lengths[rows], gen)), y[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        history.append(round(float((accuracy(model, test) == yt).float().mean()) * 100, 2))
    return history


def one_nn_accuracy(directory, features) -> float:
    """Top-1 % of cosine 1-NN from val to train, on `features(centre-cropped clips)`."""
    x, lengths, y = load_cmd(directory, "train")
    xt, lt, yt = load_cmd(directory, "val")
    a = nn.functional.normalize(features(center_crop(x, lengths)), dim=1)
    b = nn.functional.normalize(features(center_crop(xt, lt)), dim=1)
    pred = y[(b @ a.T).argmax(1)]
    return round(float((pred == yt).float().mean()) * 100, 2)


def raw_knn(directory):
    return one_nn_accuracy(directory, lambda clip: clip.flatten(1))


def pooled_knn(directory):
    """1-NN on the mean and std over time of each coordinate: the static pose distribution."""
    return one_nn_accuracy(directory, lambda clip: torch.cat([clip.mean(2).flatten(1),
                                                              clip.std(2).flatten(1)], 1))


def short_pretraining(directory, epochs, seed, out_dir):
    """Online kNN k=1 (%) after `epochs` of MoCo with the synthetic default config."""
    from sslskel.engine.config import load_config
    from sslskel.engine.pretrain import run_pretraining

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "synthetic" / "moco.yaml", [
        f"data.path={directory}", "data.format=cmd", f"optim.epochs={epochs}",
        f"optim.milestones=[{epochs}]", f"run.knn_every={epochs}", f"run.seed={seed}",
        f"run.out_dir={out_dir}", "run.progress=false", "run.threads=1", "linear.knn_k=[1]"])
    _, summary = run_pretraining(cfg)
    return round(summary["knn/top1_k1"], 2)


def parse_sets(items):
    """`key=value` strings -> SyntheticConfig keyword arguments (lists become tuples)."""
    fields = set(SyntheticConfig.__dataclass_fields__)
    out = {}
    for item in items:
        key, _, raw = item.partition("=")
        if key not in fields:
            raise SystemExit(f"--set {item}: unknown SyntheticConfig field {key!r}; valid: "
                             f"{', '.join(sorted(fields))}")
        value = yaml.safe_load(raw)
        out[key] = tuple(value) if isinstance(value, list) else value
    return out


def random_probe(directory, seed, epochs=200, lr=1e-2):
    torch.manual_seed(seed)
    x, lengths, y = load_cmd(directory, "train")
    xt, lt, yt = load_cmd(directory, "val")
    encoder = BiGRUEncoder(hidden_size=128, num_layers=2).eval()
    with torch.no_grad():
        f, ft = encoder(center_crop(x, lengths)), encoder(center_crop(xt, lt))
    mean, std = f.mean(0), f.std(0) + 1e-6  # standardising features only speeds up the probe
    f, ft = (f - mean) / std, (ft - mean) / std
    probe = nn.Linear(f.shape[1], int(max(y.max(), yt.max())) + 1)
    opt = torch.optim.Adam(probe.parameters(), lr=lr)
    for _ in range(epochs):  # full batch on fixed features
        loss = nn.functional.cross_entropy(probe(f), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return round(float((probe(ft).argmax(1) == yt).float().mean()) * 100, 2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--skip-xview", action="store_true")
    parser.add_argument("--pretrain-epochs", type=int, default=0, help="also run MoCo this long (0: skip)")
    parser.add_argument("--runs-dir", default="runs/calibration", help="where the MoCo run goes")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change a SyntheticConfig field, e.g. --set manner_scale=1.0")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    changes = parse_sets(args.set)
    cfg = SyntheticConfig(**changes)
    start = time.time()
    xsub = ensure_synthetic("xsub", cfg, args.cache_dir)
    xview = ensure_synthetic("xview", cfg, args.cache_dir)
    result = {"config": cfg.digest(), "changes": changes, "generate_s": round(time.time() - start, 1)}
    result["raw_knn_xsub"] = raw_knn(xsub)
    result["pooled_knn_xsub"] = pooled_knn(xsub)
    result["random_gru_linear_xsub"] = random_probe(xsub, args.seed)
    history = supervised(xsub, args.epochs, args.seed)
    result["supervised_xsub"], result["supervised_xsub_history"] = history[-1], history
    if not args.skip_xview:
        history = supervised(xview, args.epochs, args.seed)
        result["supervised_xview"], result["supervised_xview_history"] = history[-1], history
    if args.pretrain_epochs:
        result["moco_knn_xsub"] = short_pretraining(xsub, args.pretrain_epochs, args.seed, args.runs_dir)
    result["seconds"] = round(time.time() - start, 1)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
