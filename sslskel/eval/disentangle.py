"""How well CV-MIM separates view from pose: linear probes on z_v and z_p.

Four probes, each a multinomial logistic regression on standardised features
(`sslskel.eval.baselines.logistic_floor`: L-BFGS, L2 1e-3): view from z_v, view from z_p,
action from z_p, action from z_v. The view is what the paper calls one: (camera, replication)
on NTU-style names (the replications differ in where the subject faces), the camera on
NW-UCLA (whose "replication" is the take). A disentangled representation puts view from z_v
well above chance and view from z_p near it. Chance is the majority-class share: the share of
the probe's test set that its training set's most frequent class takes.

Which clips: the probes need every view on both sides. Where the test split's views all occur
in the training split (NTU xsub, the synthetic set), they train on the training split and test
on the test split. Where they do not (NTU xview, NW-UCLA views 1+2 -> 3: a camera never seen
in training cannot be predicted, and chance would be 0), both splits are pooled and split by
subject instead: subjects in sorted order alternate between the probes' training and test
sets. If that still leaves a view out of either side, the probe is refused with one line.
Clips are the linear protocol's test clips (centre crop), the embeddings the method's `embed`
in eval mode; only methods that split z_p and z_v (`splits_pose_and_view`) have them.

Example:
    >>> import numpy as np
    >>> majority_chance(np.array([0, 0, 1]), np.array([0, 1, 1, 1]))
    25.0
    >>> dense_ids(np.array([3, 1]), np.array([2, 3]))[1].tolist()
    [1, 2]
    >>> subject_halves(np.array([4, 1, 2, 4, 3])).tolist()
    [False, True, False, False, True]
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..common.features import extract_features
from ..data.build import build_transform
from ..errors import UserError
from .baselines import logistic_floor
from .single_shot import require_camera_meta

# (result key, target, representation), in the order reported
PROBES = (("view_from_z_v", "view", "z_v"), ("view_from_z_p", "view", "z_p"),
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
    transform = build_transform(data_cfg, train=False, eval_ratio=eval_ratio, layout=data.layout)
    z, _ = extract_features(both, data, transform, batch_size=batch_size, device=device, amp=amp)
    return {"z_p": z[:, : both.pose_dim], "z_v": z[:, both.pose_dim:]}


def dense_ids(*arrays: np.ndarray) -> list[np.ndarray]:
    """Each array's values as 0..K-1, numbered over the values of all of them (sorted)."""
    values = np.unique(np.concatenate([np.asarray(a) for a in arrays]))
    return [np.searchsorted(values, np.asarray(a)) for a in arrays]


def majority_chance(train_y: np.ndarray, test_y: np.ndarray) -> float:
    """% of the test split in the training split's most frequent class."""
    majority = np.bincount(train_y).argmax()
    return float(100.0 * (np.asarray(test_y) == majority).mean())


def subject_halves(subjects: np.ndarray) -> np.ndarray:
    """(N,) True for clips whose subject is 1st, 3rd, ... in sorted order (the probes' training half)."""
    order = {int(s): k for k, s in enumerate(np.unique(subjects))}
    return np.array([order[int(s)] % 2 == 0 for s in subjects], dtype=bool)


def require_embeddings(cfg, model) -> None:
    if not getattr(model, "splits_pose_and_view", False):
        raise UserError("--protocol disentangle", "method",
                        "a run of a method with pose and view embeddings (cvmim)",
                        f"a {cfg.method} run (its representation has no z_p / z_v)")


def view_ids(data) -> np.ndarray:
    """(N,) the view of every clip: camera * 1000 + replication, or the camera on NW-UCLA."""
    camera = np.asarray(data.meta["camera"], np.int64)
    if data.file_format == "ucla":
        return camera
    return camera * 1000 + np.asarray(data.meta["replication"], np.int64)


def probe_sets(train, val, z_train, z_test):
    """(z of the probes' training set, of their test set, targets, how they were split)."""
    views = [view_ids(train), view_ids(val)]
    if set(views[1]) <= set(views[0]):
        return z_train, z_test, {"view": views, "action": [train.labels, val.labels]}, "training / test split"
    pooled = {k: np.concatenate([z_train[k], z_test[k]]) for k in z_train}
    subjects = np.concatenate([train.meta["subject"], val.meta["subject"]])
    first = subject_halves(subjects)
    view, action = np.concatenate(views), np.concatenate([train.labels, val.labels])
    if len(np.unique(subjects)) < 2 or set(view[first]) != set(view[~first]):
        raise UserError("--protocol disentangle", "data",
                        "a split whose test views occur in training, or two subject halves that both see every view",
                        f"test views {sorted(set(views[1]) - set(views[0]))} are unseen in training and a subject "
                        "split does not cover every view either, so view chance would be 0")
    halves = ({k: v[first] for k, v in pooled.items()}, {k: v[~first] for k, v in pooled.items()})
    return (*halves, {"view": [view[first], view[~first]], "action": [action[first], action[~first]]},
            "by subject (test views unseen in training)")


def disentangle(cfg, method: nn.Module, train, val, device="cpu", amp: str = "auto") -> dict:
    """Accuracy (%) and chance of each probe in PROBES, plus the embedding sizes."""
    require_embeddings(cfg, method)
    fields = ("camera",) if train.file_format == "ucla" else ("camera", "replication")
    for data, split in ((train, "training"), (val, "test")):
        require_camera_meta(data, fields + ("subject",), where=f"{data.source or 'data'} ({split} split)")
    kw = dict(eval_ratio=cfg.linear.eval_ratio, device=device, amp=amp, batch_size=cfg.linear.optim.batch_size * 4)
    z_train, z_test = embeddings(method, train, cfg.data, **kw), embeddings(method, val, cfg.data, **kw)
    z_fit, z_probe, targets, how = probe_sets(train, val, z_train, z_test)
    out = {}
    for key, target, rep in PROBES:
        ytr, yte = dense_ids(*targets[target])
        out[key] = {"top1": logistic_floor(z_fit[rep], ytr, z_probe[rep], yte, seed=cfg.linear.seed),
                    "chance": majority_chance(ytr, yte)}
    views = np.unique(np.concatenate(targets["view"]))
    out.update(pose_dim=int(z_train["z_p"].shape[1]), view_dim=int(z_train["z_v"].shape[1]),
               views=[int(v) for v in views], num_views=len(views), split=how,
               probe_train_samples=len(z_fit["z_p"]), probe_test_samples=len(z_probe["z_p"]))
    return out


def format_disentangle(result: dict) -> list[tuple[str, float, None]]:
    """Table rows (name with chance, top-1, no top-5)."""
    return [(f"{target} from {rep} (chance {result[key]['chance']:.1f})", result[key]["top1"], None)
            for key, target, rep in PROBES]
