"""CV-MIM (sslskel.methods.cvmim): the three losses from one forward pass, each reaching only
its own networks, view pairs that are the same performance, the loss recomputed from its
parts, and exact checkpoint / resume with the three optimisers."""

import numpy as np
import pytest
import torch

from sslskel.common.checkpoint import load_checkpoint
from sslskel.data.batch import Batch
from sslskel.data.build import build_transform, load_data
from sslskel.data.dataset import SkeletonDataset, make_loader
from sslskel.data.prepare import write_cmd_layout
from sslskel.engine.config import ConfigError, load_config
from sslskel.engine.pretrain import run_pretraining
from sslskel.engine.run_log import read_metrics
from sslskel.eval.protocols import evaluate, load_run_model
from sslskel.methods import build_method
from sslskel.methods.base import Progress
from sslskel.methods.cvmim_losses import club_upper_bound, fuse, jsd_mi_loss, prior_matching_loss

from support import make_tiny_clips

SMALL = ["method=cvmim", "data.layout=ntu25", "optim.batch_size=6", "encoder.args={hidden_size: 8, num_layers: 1}",
         "cvmim.pose_dim=4", "cvmim.view_dim=4", "cvmim.critic_hidden=8"]


def make(*extra):
    torch.manual_seed(0)
    return build_method(load_config(None, [*SMALL, *extra]))


def batch(n=6, t=8, partners=None, seed=0, performance=None):
    g = torch.Generator().manual_seed(seed)
    views = [torch.randn(n, 3, t, 25, 2, generator=g)]
    meta = {} if performance is None else {"performance": torch.tensor(performance)}
    out = Batch(views, torch.full((n, 1), t), torch.zeros(n, dtype=torch.long), torch.arange(n), meta=meta)
    if partners is not None:
        out.partner_views = [torch.randn(n, 3, t, 25, 2, generator=g)]
        out.partner_lengths = torch.full((n, 1), t)
        out.has_partner = torch.tensor(partners)
    return out


@pytest.mark.parametrize("performance", [None, [0, 0, 1, 2, 2, 3]])
@pytest.mark.parametrize("weights", [[], ["cvmim.representation_weight=0.0", "cvmim.prior_weight=0.0"]])
def test_main_loss_is_the_weighted_sum_of_its_terms(performance, weights):
    method = make("cvmim.view_pairs=camera", *weights)  # the paper's weights; terms off for an ablation
    b = batch(performance=performance)
    losses, logs = method.training_step(b, Progress(0, 0))
    s = method.cvmim
    # representation : cross-view = 1 : 5 (two per-view representation terms, 2 x 5 cross-view)
    expected = (s.representation_weight * logs["loss/representation"] + 2 * s.cross_view_weight * logs["loss/cross_view"]
                + s.disentangle_weight * logs["loss/club"] + s.prior_weight * logs["loss/prior"])
    torch.testing.assert_close(losses["main"].detach(), expected)
    # recomputed by hand from the networks (train mode, so BatchNorm sees the same batch)
    x_b = method.camera_augment(b.views[0], 0)  # the same moment from a new camera
    h = [method.encoder(b.views[0], b.lengths[:, 0]), method.encoder(x_b, b.lengths[:, 0])]
    z = [(hv @ method.split.weight.T + method.split.bias) for hv in h]
    zp, zv = [v[:, :4] for v in z], [v[:, 4:] for v in z]
    groups = None if performance is None else torch.tensor(performance)
    rep = sum(jsd_mi_loss(method.critic(hv), fuse(p, v, "moe"), groups) for hv, p, v in zip(h, zp, zv))
    club = sum(club_upper_bound(*method.q(p), v) for p, v in zip(zp, zv))
    prior = sum(prior_matching_loss(method.discriminator(torch.sigmoid(torch.cat([p, v], 1)))) for p, v in zip(zp, zv))
    torch.testing.assert_close(logs["loss/representation"], rep.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(logs["loss/cross_view"], jsd_mi_loss(zp[0], zp[1], groups).detach(),
                               rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(logs["loss/club"], club.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(logs["loss/prior"], prior.detach(), rtol=1e-5, atol=1e-6)
    if performance is not None:  # masking changes the loss: the same performance is no negative
        unmasked = make("cvmim.view_pairs=camera", "cvmim.mask_same_performance=false")
        assert not torch.allclose(unmasked.training_step(b, Progress(0, 0))[1]["loss/cross_view"],
                                  logs["loss/cross_view"])


def test_q_and_d_see_detached_embeddings():
    method = make("cvmim.view_pairs=camera", "cvmim.club_inter=true")
    losses, _ = method.training_step(batch(), Progress(0, 0))
    groups = method.parameter_groups()
    for name in ("q", "d"):
        grads = torch.autograd.grad(losses[name], groups["main"], allow_unused=True, retain_graph=True)
        assert all(g is None for g in grads), name  # Q's and D's losses never train the encoder
    # the encoder's loss does flow through Q and D (that is how it is disentangled / prior-matched)
    grads = torch.autograd.grad(losses["main"], groups["q"] + groups["d"], allow_unused=True, retain_graph=True)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert sorted(groups) == ["d", "main", "q"] and method.q_inter is not None


def test_second_view_is_the_partner_where_there_is_one():
    method = make()
    b = batch(partners=[True, False, True, False, True, True])
    x_b, lengths, is_partner = method.second_view(b, step=3)
    augmented = method.camera_augment(b.views[0], 3)
    for i, has in enumerate([True, False, True, False, True, True]):
        assert torch.equal(x_b[i], b.partner_views[0][i] if has else augmented[i])
    assert is_partner.tolist() == [True, False, True, False, True, True]
    # camera augmentation: same clip, other viewpoint (bone lengths kept, coordinates changed)
    assert not torch.allclose(augmented, b.views[0])
    torch.testing.assert_close(augmented.norm(dim=1), b.views[0].norm(dim=1), rtol=1e-5, atol=1e-5)


def test_settings_are_checked():
    with pytest.raises(ConfigError, match=r"cvmim.fusion: expected one of moe, poe, cat, got 'sum'"):
        load_config(None, [*SMALL, "cvmim.fusion=sum"])
    with pytest.raises(ConfigError, match=r"cvmim.view_pairs: expected one of partners, camera"):
        load_config(None, [*SMALL, "cvmim.view_pairs=both"])
    with pytest.raises(ConfigError, match=r"cvmim.fusion: expected moe or cat when cvmim.pose_dim != cvmim.view_dim"):
        load_config(None, [*SMALL, "cvmim.fusion=poe", "cvmim.view_dim=6"])
    cat = make("cvmim.fusion=cat", "cvmim.view_dim=6")
    assert cat.critic[-1].out_features == 10


def test_per_frame_encoder_gives_per_frame_pose_embeddings():
    method = make("encoder.name=pose_mlp", "encoder.args={hidden: 16, out_dim: 8}")
    assert method.per_frame and isinstance(method.split, torch.nn.Identity)
    x = torch.randn(3, 3, 7, 25, 2)
    frames = method.frame_pose_embeddings(x, torch.tensor([7, 5, 2]))
    assert frames.shape == (3, 7, 4) and torch.all(frames[1, 5:] == 0) and torch.all(frames[2, 2:] == 0)
    z_p, z_v = method.embed(x, torch.tensor([7, 5, 2]))
    torch.testing.assert_close(z_p[1], frames[1, :5].mean(0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="per-frame encoder"):
        make().frame_pose_embeddings(x, None)


@pytest.fixture(scope="module")
def multi_camera_dir(tmp_path_factory):
    """A CMD folder whose performances are each recorded by cameras 1 and 2."""
    root = tmp_path_factory.mktemp("two_cameras")
    for split, n, seed in (("train", 24, 0), ("val", 12, 1)):
        data, lengths, labels, _ = make_tiny_clips(n, 3, 16, seed)
        names = [f"S001C{1 + i % 2:03d}P{i // 6 + 1:03d}R001A{(i // 2) % 3 + 1:03d}" for i in range(n)]
        labels = np.array([(i // 2) % 3 for i in range(n)])
        write_cmd_layout(root, split, data, num_frames=lengths, labels=labels, names=names)
    return root


def tiny_cvmim(path, out, *extra):
    return load_config(None, [f"data.path={path}", f"run.out_dir={out}", "data.frames=8", "data.num_workers=0",
                              *SMALL, "optim.batch_size=6", "optim.lr=0.01", "optim.optimizer=adam",
                              "optim.weight_decay=0", "optim.milestones=[3]", "run.progress=false",
                              "run.knn_every=0", "run.log_every=1", "run.checkpoint_every=2",
                              "optim.groups={q: {lr: 0.005}, d: {optimizer: adagrad, lr: 0.02}}", *extra])


def test_view_pairs_are_the_same_performance(multi_camera_dir, tmp_path):
    cfg = tiny_cvmim(multi_camera_dir, tmp_path)
    train = load_data(cfg.data, "train")
    augment = build_transform(cfg.data, train=True, layout=train.layout)
    loader = make_loader(SkeletonDataset(train, augment, num_views=1, partners=True), 24, shuffle=False)
    b = next(iter(loader))
    assert b.has_partner.all()
    for i in range(24):
        j = i + 1 if i % 2 == 0 else i - 1  # the other camera's recording of the same take
        assert b.meta["performance"][i] == b.meta["performance"][j] and b.meta["camera"][i] != b.meta["camera"][j]


def test_three_optimisers_checkpoint_and_resume_exactly(multi_camera_dir, tmp_path):
    straight, _ = run_pretraining(tiny_cvmim(multi_camera_dir, tmp_path, "optim.epochs=4"), run_dir=tmp_path / "a")
    split, _ = run_pretraining(tiny_cvmim(multi_camera_dir, tmp_path, "optim.epochs=2"), run_dir=tmp_path / "b")
    run_pretraining(load_config(split / "config.yaml", ["optim.epochs=4"]), resume_dir=split)

    def records(run):
        return [{k: v for k, v in r.items() if k != "time" and "samples_per_s" not in k}
                for r in read_metrics(run) if "train/loss" in r]

    assert records(split) == records(straight) and len(records(straight)) == 16
    assert records(straight)[0]["cvmim/partner_fraction"] == 1.0
    assert {"train/loss_q", "train/loss_d", "train/lr_q", "train/lr_d"} <= set(records(straight)[0])
    a, b = (load_checkpoint(run / "checkpoints" / "last.pt") for run in (straight, split))
    assert sorted(a["optimizers"]) == ["d", "main", "q"]
    assert "sum" in a["optimizers"]["d"]["state"][0]  # D's own Adagrad
    for key in a["method"]:
        assert torch.equal(a["method"][key], b["method"][key]), key
    for group in a["optimizers"]:
        for index, state in a["optimizers"][group]["state"].items():
            for name, value in state.items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(b["optimizers"][group]["state"][index][name]))


@pytest.mark.parametrize("encoder", ["gru", "pose_mlp"])
def test_a_cvmim_run_goes_through_single_shot_and_disentangle(multi_camera_dir, tmp_path, encoder):
    args = "{hidden_size: 8, num_layers: 1}" if encoder == "gru" else "{hidden: 16, out_dim: 8}"
    run, _ = run_pretraining(tiny_cvmim(multi_camera_dir, tmp_path, "optim.epochs=1", f"encoder.name={encoder}",
                                        f"encoder.args={args}", "linear.optim.epochs=2",
                                        "linear.optim.batch_size=6", "linear.classes=[0, 2]"), run_dir=tmp_path / "r")
    cfg, model, _ = load_run_model(run_dir=run)
    results = evaluate(cfg, model, protocols=("single-shot", "disentangle"), progress=False)
    shot = results["single-shot"]
    assert [p["part"] for p in shot["parts"]] == ["C1R1", "C2R1"] and shot["num_classes"] == 2
    assert shot["representation"] == ("per-frame z_p" if encoder == "pose_mlp" else "z_p")
    assert shot["mean_final_top1"] == pytest.approx(sum(p["final_top1"] for p in shot["parts"]) / 2)  # the parts' mean
    probes = results["disentangle"]
    assert set(probes) >= {"view_from_z_v", "view_from_z_p", "action_from_z_p", "action_from_z_v"}
