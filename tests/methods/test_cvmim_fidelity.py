"""CV-MIM against the authors' code (google-research poem/cv_mim, poem/core), in float64 where
it is a formula: Keras Adagrad's state, Q's and D's widths, autocast off in Q and D, the critic
on the encoder's first hidden layer, per-frame contrast on synchronised frames, negatives of one
performance masked (compute_fenchel_dual_loss with indicator matrices), the authors' projection
and 2-D normalisation, the shared temporal crop, and the warning on pre-normalised data."""

import math
import warnings

import numpy as np
import pytest
import torch

from sslskel.data.batch import Batch
from sslskel.data.container import SkeletonData
from sslskel.data.dataset import SkeletonDataset
from sslskel.data.transforms import CenterCrop
from sslskel.engine.config import OptimConfig, load_config
from sslskel.engine.optim import build_optimizer
from sslskel.methods import build_method
from sslskel.methods.base import Progress, step_generator
from sslskel.methods.camera import project_like_authors, project_perspective
from sslskel.methods.cvmim import frame_at
from sslskel.methods.cvmim_losses import fuse, jsd_mi_loss

MLP = ["method=cvmim", "data.layout=ntu25", "optim.batch_size=6", "encoder.name=pose_mlp",
       "encoder.args={hidden: 16, out_dim: 8, dropout: 0.0}", "cvmim.pose_dim=4", "cvmim.view_dim=4",
       "cvmim.view_pairs=camera"]


def make(*args):
    torch.manual_seed(0)
    return build_method(load_config(None, list(args)))


def test_adagrad_has_the_keras_state():
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = build_optimizer([w], OptimConfig(optimizer="adagrad", lr=0.02, weight_decay=0.0))
    expected, accumulator = np.array([1.0, -2.0]), np.full(2, 0.1)
    for step in range(3):
        g = np.array([0.5, -3.0]) * (step + 1)
        w.grad = torch.tensor(g)
        opt.step()
        accumulator += g ** 2  # Keras: accumulator (initially 0.1) += g^2; w -= lr g / (sqrt(acc) + 1e-7)
        expected -= 0.02 * g / (np.sqrt(accumulator) + 1e-7)
        np.testing.assert_allclose(w.detach().numpy(), expected, rtol=1e-12)
    # the first step is not +-lr for every weight (torch's defaults would give 0.02 exactly)
    assert abs(1.0 - 0.02 * 0.5 / (math.sqrt(0.1 + 0.25) + 1e-7) - 1.0) < 0.02


def test_q_width_is_the_view_dim_and_d_widths_come_from_both_dims():
    method = make(*MLP[:-3], "cvmim.pose_dim=6", "cvmim.view_dim=10", "cvmim.fusion=cat",
                  "encoder.args={hidden: 16, out_dim: 16}")
    for head in (method.q.mean, method.q.logvar[0]):
        assert [m.out_features for m in head if isinstance(m, torch.nn.Linear)] == [10, 10]
    d = method.discriminator.module
    assert [m.out_features for m in d if isinstance(m, torch.nn.Linear)] == [16, 8, 1]
    assert d[0].in_features == 16


def test_q_and_d_run_in_fp32_under_bf16_autocast():
    method = make(*MLP)
    z, points = torch.randn(5, 4), torch.rand(5, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mean, logvar = method.q(z)
        logits = method.discriminator(points)
    assert mean.dtype == logvar.dtype == logits.dtype == torch.float32
    # exactly what they give outside autocast: nothing ran in bf16
    assert torch.equal(logits, method.discriminator(points)) and torch.equal(mean, method.q(z)[0])


def test_frames_are_the_default_for_pose_mlp_and_the_critic_reads_the_first_hidden_layer():
    method = make(*MLP)
    assert method.frames and isinstance(method.critic[0], type(method.encoder.blocks[0]))
    assert method.critic[-1].in_features == method.encoder.hidden == 16
    with pytest.raises(ValueError, match="cvmim.contrast: expected clips or auto"):
        make("method=cvmim", "data.layout=ntu25", "cvmim.contrast=frames")
    assert not make(*MLP, "cvmim.contrast=clips").frames


def test_per_frame_losses_by_hand():
    method = make(*MLP)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(6, 3, 9, 25, 2, generator=g)
    lengths = torch.tensor([9, 9, 5, 7, 9, 3])
    b = Batch([x], lengths[:, None], torch.zeros(6, dtype=torch.long), torch.arange(6),
              meta={"performance": torch.tensor([0, 1, 1, 2, 3, 4])})
    _, logs = method.training_step(b, Progress(0, 4))
    # the same fraction of both views: frame t of the clip and of its camera-augmented copy
    fraction = torch.rand(6, generator=step_generator(0, 4, 3, torch.device("cpu")))
    t = frame_at(fraction, lengths)
    assert t.tolist() == [int(f * n) for f, n in zip(fraction.tolist(), lengths.tolist())]
    views = [x, method.camera_augment(x, 4)]
    rows = [v[torch.arange(6), :, t, :, 0].permute(0, 2, 1).reshape(6, 75) for v in views]  # joint-major
    outs = [method.encoder.mlp_with_first_hidden(r) for r in rows]
    groups = b.meta["performance"]
    rep = sum(jsd_mi_loss(method.critic(first), fuse(out[:, :4], out[:, 4:]), groups) for out, first in outs)
    cross = jsd_mi_loss(outs[0][0][:, :4], outs[1][0][:, :4], groups)
    torch.testing.assert_close(logs["loss/representation"], rep.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(logs["loss/cross_view"], cross.detach(), rtol=1e-5, atol=1e-6)


def authors_fenchel_dual_jsd(local, global_, positive_indicator):
    """poem/cv_mim/losses.py compute_fenchel_dual_loss (measure JSD, one local / global each), numpy."""
    product = local @ global_.T
    softplus = lambda v: np.logaddexp(0.0, v)  # noqa: E731
    positive = math.log(2.0) - softplus(-product)
    negative = softplus(-product) + product - math.log(2.0)
    negative_indicator = 1.0 - positive_indicator
    e_pos = (positive * positive_indicator).sum() / max(positive_indicator.sum(), 1e-12)
    e_neg = (negative * negative_indicator).sum() / max(negative_indicator.sum(), 1e-12)
    return e_neg - e_pos


@pytest.mark.parametrize("groups", [[0, 1, 2, 3, 4], [0, 0, 1, 2, 2], [7, 7, 7, 7, 7]])
def test_masked_jsd_against_the_authors_formula(groups):
    rng = np.random.default_rng(1)
    a, c = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    groups_np = np.array(groups)
    same = (groups_np[:, None] == groups_np[None, :]).astype(float)
    # positives on the diagonal; same-performance pairs neither positive nor negative: the code's
    # positive mean over eye and negative mean over 1 - same
    eye = np.eye(5)
    product = a @ c.T
    softplus = lambda v: np.logaddexp(0.0, v)  # noqa: E731
    e_pos = ((math.log(2.0) - softplus(-product)) * eye).sum() / 5
    e_neg = ((softplus(-product) + product - math.log(2.0)) * (1 - same)).sum() / max((1 - same).sum(), 1e-12)
    got = jsd_mi_loss(torch.tensor(a), torch.tensor(c), torch.tensor(groups)).item()
    assert got == pytest.approx(e_neg - e_pos, rel=1e-12, abs=1e-12)
    if len(set(groups)) == 5:  # no two alike: the code's formula with the identity indicator
        assert got == pytest.approx(authors_fenchel_dual_jsd(a, c, eye), rel=1e-12)


def test_projection_masks_points_behind_the_camera():
    x = torch.zeros(1, 3, 1, 3, 1, dtype=torch.float64)
    x[0, :, 0, 0, 0] = torch.tensor([0.5, -1.0, 0.2], dtype=torch.float64)  # d = 1: in front
    x[0, :, 0, 1, 0] = torch.tensor([0.5, -2.0, 0.2])  # d = 0: on the camera
    x[0, :, 0, 2, 0] = torch.tensor([0.5, -3.0, 0.2])  # d = -1: behind
    y = project_perspective(x, depth_offset=2.0)
    assert y[0, :, 0, 0, 0].tolist() == [0.5, 0.0, 0.2]
    assert (y[0, :, 0, 1:] == 0).all()


def test_projection_follows_the_authors_pipeline_in_float64():
    rng = np.random.default_rng(0)
    pose = rng.normal(size=(25, 3))
    x = torch.tensor(pose.T[None, :, None, :, None])
    hips, shoulders = [12, 16], [4, 8]
    # poem: 3-D normalize (hip centre, torso length 1), camera at z = 2, divide, 2-D normalize (unit 0.5)
    p = pose - pose[hips].mean(0)
    p = p / np.linalg.norm(pose[shoulders].mean(0) - pose[hips].mean(0))
    depth = p[:, 1] + 2.0
    uv = np.stack([p[:, 0] / depth, p[:, 2] / depth], 1)
    uv = uv - uv[hips].mean(0)
    uv = uv / np.linalg.norm(uv[shoulders].mean(0) - uv[hips].mean(0)) * 0.5
    y = project_like_authors(x, "ntu25")[0, :, 0, :, 0].numpy()
    np.testing.assert_allclose(y[[0, 2]].T, uv, rtol=1e-10, atol=1e-12)
    assert (y[1] == 0).all()


def test_a_pair_shares_one_temporal_crop():
    # a performance recorded by two cameras at different frame counts: value = time in [0, 1)
    long_clip = np.broadcast_to(np.arange(40, dtype=np.float32)[None, :, None, None] / 40, (3, 40, 25, 1))
    short_clip = np.zeros_like(long_clip)
    short_clip[:, :20] = np.broadcast_to(np.arange(20, dtype=np.float32)[None, :, None, None] / 20, (3, 20, 25, 1))
    names = ["S001C001P001R001A001", "S001C002P001R001A001"]
    from sslskel.data.container import ntu_meta_from_names
    data = SkeletonData(np.stack([long_clip, short_clip]), [40, 20], [0, 0], names, meta=ntu_meta_from_names(names))
    ds = SkeletonDataset(data, CenterCrop(ratio=1.0, out_frames=10), partners=True, shared_crop=(0.3, 0.6))
    for epoch in range(5):
        ds.set_epoch(epoch)
        item = ds[0]
        own, partner = item["views"][0][0, :, 0, 0], item["partner_views"][0][0, :, 0, 0]
        # the same moments, up to one and a half frames of the shorter recording (rounding, interpolation)
        torch.testing.assert_close(own, partner, atol=0.075, rtol=0)
        assert 0.3 - 0.05 <= float(own[-1] - own[0]) + 1 / 40 <= 0.6 + 0.05


def test_pre_normalised_data_gets_a_warning():
    method = make(*MLP)
    data = SkeletonData(np.zeros((2, 3, 4, 25, 1), np.float32), [4, 4], [0, 1], ["a", "b"], normalization="prenorm")
    with pytest.warns(UserWarning, match="pre-normalised data.*data.normalize=center"):
        method.check_training_data(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        method.check_training_data(SkeletonData(np.zeros((2, 3, 4, 25, 1), np.float32), [4, 4], [0, 1], ["a", "b"],
                                                normalization="center"))


@pytest.mark.parametrize("normalize, up, depth", [("center", 1, 2), ("prenorm", 2, 1)])
def test_camera_augmentation_turns_about_the_data_s_vertical_axis(normalize, up, depth):
    method = make(*MLP, f"data.normalize={normalize}", "cvmim.elevation_deg=0", "cvmim.roll_deg=0",
                  "cvmim.project_2d=true")
    x = torch.randn(4, 3, 5, 25, 2)
    turned = method.camera_augment(x, 0)
    torch.testing.assert_close(turned[:, up], x[:, up])  # an azimuth only: heights stay
    assert not torch.allclose(turned[:, depth], x[:, depth])
    assert (method._input(x)[:, depth] == 0).all()  # the projection drops the data's depth axis
