"""How well CV-MIM separates view from pose: linear probes on z_v and z_p.

Four probes, each a multinomial logistic regression on standardised features
(`sslskel.eval.baselines.logistic_floor`: L-BFGS, L2 1e-3), fitted on the training split and
tested on the test split: camera from z_v, camera from z_p, action from z_p, action from z_v.
A disentangled representation puts camera from z_v well above chance and camera from z_p near
it. Chance is the majority-class share: the share of the test split that the training split's
most frequent class takes (what always answering that class scores). Cameras are numbered
by their ids over both splits, so a test camera unseen in training (NTU xview) simply cannot
be predicted. Clips are the linear protocol's test clips (centre crop), the embeddings the
method's `embed` in eval mode.

Example:
    >>> import numpy as np
    >>> majority_chance(np.array([0, 0, 1]), np.array([0, 1, 1, 1]))
    25.0
    >>> dense_ids(np.array([3, 1]), np.array([2, 3]))[1].tolist()
    [1, 2]
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..common.features import extract_features
from ..data.build import build_transform, resolve_layout
from ..errors import UserError
from .baselines import logistic_floor
from .single_shot import require_camera_meta

# (result key, target, representation), in the order reported
PROBES = (("camera_from_z_v", "camera", "z_v"), ("camera_from_z_p", "camera", "z_p"),
          ("action_from_z_p", "action", "z_p"), ("action_from_z_v", "action", "z_v"))


class BothEmbeddings(nn.Module):
    """(x, lengths) -> cat(z_p, z_v) of a method with `embed`, as an encoder."""

    def __init__(self, method: nn.Module):
        super().__init__()
        self.method = method
        self.pose_dim = None

    def forward(self, x, lengths=None):
        z_p, z_v = self.method.embed(x, lengths)
        self.pose_dim = z_p.shape[1]
        return torch.cat([z_p, z_v], dim=1)


def embeddings(method, data, data_cfg, eval_ratio: float, device, amp: str,
               batch_size: int = 256) -> dict[str, np.ndarray]:
    """{"z_p": (N, d_p), "z_v": (N, d_v)} of `data`'s centre-crop clips."""
    both = BothEmbeddings(method)
    z, _ = extract_features(both, data, build_transform(data_cfg, train=False, eval_ratio=eval_ratio),
                            batch_size=batch_size, device=device, amp=amp)
    return {"z_p": z[:, : both.pose_dim], "z_v": z[:, both.pose_dim:]}


def dense_ids(*arrays: np.ndarray) -> list[np.ndarray]:
    """Each array's values as 0..K-1, numbered over the values of all of them (sorted)."""
    values = np.unique(np.concatenate([np.asarray(a) for a in arrays]))
    return [np.searchsorted(values, np.asarray(a)) for a in arrays]


def majority_chance(train_y: np.ndarray, test_y: np.ndarray) -> float:
    """% of the test split in the training split's most frequent class."""
    majority = np.bincount(train_y).argmax()
    return float(100.0 * (np.asarray(test_y) == majority).mean())


def require_embeddings(cfg, model) -> None:
    if not hasattr(model, "embed"):
        raise UserError("--protocol disentangle", "method",
                        "a run of a method with pose and view embeddings (cvmim)",
                        f"a {cfg.method} run (its representation has no z_p / z_v)")


def disentangle(cfg, method: nn.Module, train, val, device="cpu", amp: str = "auto") -> dict:
    """Accuracy (%) and chance of each probe in PROBES, plus the embedding sizes."""
    require_embeddings(cfg, method)
    for data, split in ((train, "training"), (val, "test")):
        require_camera_meta(data, ("camera",), where=f"{data.source or 'data'} ({split} split)")
    resolve_layout(cfg.data, train)
    kw = dict(eval_ratio=cfg.linear.eval_ratio, device=device, amp=amp, batch_size=cfg.linear.optim.batch_size * 4)
    z_train, z_test = embeddings(method, train, cfg.data, **kw), embeddings(method, val, cfg.data, **kw)
    cam_train, cam_test = dense_ids(train.meta["camera"], val.meta["camera"])
    targets = {"camera": (cam_train, cam_test), "action": (train.labels, val.labels)}
    out = {}
    for key, target, rep in PROBES:
        ytr, yte = targets[target]
        out[key] = {"top1": logistic_floor(z_train[rep], ytr, z_test[rep], yte, seed=cfg.linear.seed),
                    "chance": majority_chance(ytr, yte)}
    out.update(pose_dim=int(z_train["z_p"].shape[1]), view_dim=int(z_train["z_v"].shape[1]),
               cameras=[int(c) for c in np.unique(np.concatenate([train.meta["camera"], val.meta["camera"]]))],
               train_samples=len(train), test_samples=len(val))
    return out


def format_disentangle(result: dict) -> list[tuple[str, float, None]]:
    """Table rows (name with chance, top-1, no top-5)."""
    return [(f"{target} from {rep} (chance {result[key]['chance']:.1f})", result[key]["top1"], None)
            for key, target, rep in PROBES]
