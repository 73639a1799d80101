"""Single-shot cross-view protocol: parts, class filter, padding, and the protocol on tiny data."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sslskel.data.container import SkeletonData, ntu_meta_from_names
from sslskel.engine.config import load_config
from sslskel.errors import UserError
from sslskel.eval.single_shot import (
    FramePoseEmbedding,
    feature_batches,
    keep_classes,
    pad_by_repetition,
    representation_of,
    single_shot,
    single_shot_parts,
)
from sslskel.models import build_encoder


def multiview_data(subjects, classes=3, frames=12, seed=0):
    """Every (subject, camera, replication, action) once; camera in x[0, :, 0], action in x[1, :, 1]."""
    rng = np.random.default_rng(seed)
    rows = [(s, c, r, a) for s in subjects for c in (1, 2, 3) for r in (1, 2) for a in range(classes)]
    x = 0.1 * rng.normal(size=(len(rows), 3, frames, 25, 1)).astype(np.float32)
    for i, (s, c, r, a) in enumerate(rows):
        x[i, 0, :, 0] = c
        x[i, 1, :, 1] = a
        x[i, 2, :, 2] = r
    names = [f"S001C{c:03d}P{s:03d}R{r:03d}A{a + 1:03d}" for s, c, r, a in rows]
    lengths = rng.integers(frames // 2, frames + 1, size=len(rows))
    return SkeletonData(x, lengths, [a for *_, a in rows], names, meta=ntu_meta_from_names(names),
                        layout="ntu25", source="multiview")


class FakeCVMIM(nn.Module):
    """Stands in for CV-MIM: z_p = one-hot action (x[1, :, 1]), z_v = one-hot view (camera x[0, :, 0],
    replication x[2, :, 2])."""

    splits_pose_and_view = True

    def __init__(self, per_frame=False):
        super().__init__()
        self.per_frame = per_frame
        self.bn = nn.BatchNorm1d(1)  # a module with train/eval state, like the real one
        self.frame_calls = 0

    def _codes(self, x):  # (N, T) action and camera codes per frame
        return x[:, 1, :, 1, 0].round().long().clamp(0, 3), x[:, 0, :, 0, 0].round().long().clamp(0, 3)

    def embed(self, x, lengths=None):
        action, camera = self._codes(x)
        replication = x[:, 2, 0, 2, 0].round().long().clamp(1, 2)
        return F.one_hot(action[:, 0], 4).float(), F.one_hot(camera[:, 0] * 2 + replication - 1, 8).float()

    def frame_pose_embeddings(self, x, lengths=None):
        self.frame_calls += 1
        z = F.one_hot(self._codes(x)[0], 4).float()
        valid = torch.arange(x.shape[2])[None] < lengths[:, None]
        return z * valid[..., None]


def reference_parts(data):
    parts = {}
    for i in range(len(data)):
        key = (int(data.meta["camera"][i]), int(data.meta["replication"][i]))
        parts.setdefault(key, []).append(i)
    return [(f"C{c}R{r}", parts[(c, r)]) for c, r in sorted(parts)]


def test_parts_are_camera_replication_groups():
    data = multiview_data(subjects=[1, 2])
    keep = np.random.default_rng(0).permutation(len(data))[:25]  # shuffled, some groups thinner
    data = data.subset(keep)
    got = [(name, idx.tolist()) for name, idx in single_shot_parts(data)]
    assert got == reference_parts(data) and len(got) == 6


def test_ucla_has_one_part_per_view():
    camera, episode = np.array([1, 2, 3, 1, 2, 1]), np.array([1, 1, 2, 3, 4, 5])
    meta = {"camera": camera, "replication": episode}
    data = SkeletonData(np.zeros((6, 3, 4, 20, 1), np.float32), [4] * 6, [0, 1, 2, 0, 1, 2],
                        [f"a01_s01_e{e:02d}_v{c:02d}" for c, e in zip(camera, episode)], meta=meta,
                        layout="ucla20", file_format="ucla")
    got = [(name, idx.tolist()) for name, idx in single_shot_parts(data)]
    assert got == [("V1", [0, 3, 5]), ("V2", [1, 4]), ("V3", [2])]


def test_data_without_camera_metadata_is_refused():
    data = SkeletonData(np.zeros((3, 3, 4, 25, 1), np.float32), [4] * 3, [0, 1, 2], ["a", "b", "c"],
                        meta=ntu_meta_from_names(["a", "b", "c"]), source="clips.npy")
    with pytest.raises(UserError, match="meta.camera.*no camera metadata.*3 of 3 samples"):
        single_shot_parts(data)
    with pytest.raises(UserError, match="no camera metadata"):  # no meta at all
        single_shot_parts(SkeletonData(np.zeros((1, 3, 4, 25, 1), np.float32), [4], [0], ["a"]))


def test_keep_classes_relabels_in_the_given_order():
    data = multiview_data(subjects=[1])
    kept = keep_classes(data, [2, 0])
    assert kept.num_classes == 2 and len(kept) == 2 * len(data) // 3
    original = data.labels[np.isin(data.labels, [2, 0])]
    assert kept.labels.tolist() == [{2: 0, 0: 1}[int(y)] for y in original]


def test_pad_by_repetition_against_a_loop():
    seq, lengths = torch.randn(3, 7, 2), torch.tensor([7, 3, 1])
    ref = torch.stack([torch.stack([seq[i, t % int(lengths[i])] for t in range(7)]) for i in range(3)])
    assert torch.equal(pad_by_repetition(seq, lengths), ref)


def test_feature_batches_cover_every_sample_once_in_a_seeded_order():
    x, y = torch.arange(10.).view(10, 1), torch.arange(10)
    batches = feature_batches(x, y, 4, seed=1, epoch=0)
    assert [b.size for b in batches] == [4, 4, 2]
    assert sorted(torch.cat([b.labels for b in batches]).tolist()) == list(range(10))
    again = feature_batches(x, y, 4, seed=1, epoch=0)
    assert all(torch.equal(a.views[0], b.views[0]) for a, b in zip(batches, again))
    other = torch.cat([b.labels for b in feature_batches(x, y, 4, seed=1, epoch=1)])
    assert not torch.equal(other, torch.cat([b.labels for b in batches]))


def test_representation_follows_what_the_model_offers():
    encoder = build_encoder("gru", hidden_size=4, num_layers=1)
    assert representation_of(encoder) == (encoder, "encoder features")
    assert representation_of(FakeCVMIM())[1] == "z_p"
    module, kind = representation_of(FakeCVMIM(per_frame=True))
    assert kind == "per-frame z_p" and isinstance(module, FramePoseEmbedding)
    x = torch.zeros(2, 3, 6, 25, 1)
    x[0, 1, :, 1] = 2
    x[0, 1, 3:, 1] = 1  # frames 3.. of clip 0 are invalid: replaced by repeating 0..2
    out = module(x, torch.tensor([3, 6]))
    assert out.shape == (2, 6, 4) and out[0].argmax(1).tolist() == [2] * 6


def cfg_for(*extra):
    return load_config(None, ["data.frames=8", "data.num_workers=0", "data.layout=ntu25", "linear.optim.epochs=4",
                              "linear.optim.milestones=[3]", "linear.optim.batch_size=8", "linear.optim.lr=0.5",
                              *extra])


def test_single_shot_on_pose_embeddings_trains_one_classifier_per_part():
    train, val = multiview_data(subjects=[1, 2]), multiview_data(subjects=[3], seed=1)
    result = single_shot(cfg_for(), FakeCVMIM(), train, val, progress=False)
    assert [p["part"] for p in result["parts"]] == ["C1R1", "C1R2", "C2R1", "C2R2", "C3R1", "C3R2"]
    assert all(p["train_samples"] == 6 and len(p["history"]) == 4 for p in result["parts"])
    assert result["representation"] == "z_p" and result["classifier"] == "linear"
    assert result["test_samples"] == len(val) and result["mean_final_top1"] == 100.0  # z_p is the action
    assert result["mean_final_top1"] == np.mean([p["final_top1"] for p in result["parts"]])


def test_single_shot_of_an_encoder_with_a_class_subset():
    train, val = multiview_data(subjects=[1, 2]), multiview_data(subjects=[3], seed=1)
    torch.manual_seed(0)
    encoder = build_encoder("gru", hidden_size=8, num_layers=1, num_persons=1)
    result = single_shot(cfg_for(), encoder, train, val, classes=[2, 1], progress=False)
    assert result["representation"] == "encoder features" and result["num_classes"] == 2
    assert result["test_samples"] == 12 and all(p["train_samples"] == 4 for p in result["parts"])


def test_single_shot_on_per_frame_embeddings_uses_the_temporal_resnet():
    train, val = multiview_data(subjects=[1, 2]), multiview_data(subjects=[3], seed=1)
    method = FakeCVMIM(per_frame=True)
    result = single_shot(cfg_for("linear.optim.epochs=6"), method, train, val, progress=False)
    assert method.frame_calls > 0
    assert result["classifier"] == "temporal_resnet" and result["representation"] == "per-frame z_p"
    assert (result["optimizer"], result["lr"], result["batch_size"], result["epochs"]) == ("adam", 1e-3, 64, 6)
    assert result["mean_best_top1"] > 100 / 3 + 20  # the action is in every frame
