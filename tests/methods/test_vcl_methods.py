"""SimCLR, VSimCLR, VMoCo and the SupCon / VSupCon auxiliary losses: each loss recomputed from
its parts, posterior samples on the sphere and reproducible per step, the key / queue of
VMoCo the normalised posterior mean, the config sections, exact resume."""

import pytest
import torch
import torch.nn.functional as F

from sslskel.common.checkpoint import load_checkpoint
from sslskel.data.batch import Batch
from sslskel.engine.config import ConfigError, load_config
from sslskel.engine.pretrain import run_pretraining
from sslskel.engine.run_log import read_metrics
from sslskel.methods import build_method
from sslskel.methods.base import Progress, step_generator
from sslskel.methods.losses import info_nce, nt_xent, supcon
from sslskel.methods.supcon import SupConSettings, SupervisedContrast
from sslskel.methods.variational import normalized_kl, sample_projected_normal

from support import TINY_OVERRIDES

SMALL = ["data.layout=ntu25", "optim.batch_size=6", "encoder.args={hidden_size: 8, num_layers: 1}",
         "simclr.mlp_hidden=16", "simclr.feature_dim=8"]
MOCO_SMALL = ["data.layout=ntu25", "optim.batch_size=6", "encoder.args={hidden_size: 8, num_layers: 1}",
              "moco.queue_size=12", "moco.mlp_hidden=16", "moco.feature_dim=8", "moco.momentum=0.9"]


def make(method, *extra):
    torch.manual_seed(0)
    base = MOCO_SMALL if method == "vmoco" else SMALL
    return build_method(load_config(None, [f"method={method}", *base, *extra]))


def batch(n=6, t=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    views = [torch.randn(n, 3, t, 25, 2, generator=g) for _ in range(2)]
    return Batch(views, torch.full((n, 2), t), torch.zeros(n, dtype=torch.long), torch.arange(n))


def test_simclr_loss_is_nt_xent_of_the_projected_views():
    method, b = make("simclr"), batch()
    losses, logs = method.training_step(b, Progress(0, 0))
    z = [F.normalize(method.projector(method.encoder(v, b.lengths[:, i])), dim=1) for i, v in enumerate(b.views)]
    torch.testing.assert_close(losses["main"], nt_xent(z[0], z[1], 0.1)[0])


def test_vsimclr_samples_the_posterior_and_adds_the_kl_of_both_views():
    method, b = make("vsimclr", "vcl.beta=0.5"), batch()
    losses, logs = method.training_step(b, Progress(0, 3))
    z, kl = [], 0.0
    for i, v in enumerate(b.views):
        mu, logvar = method.posterior(v, b.lengths[:, i])
        z.append(sample_projected_normal(mu, logvar, generator=step_generator(0, 3, i, mu.device)))
        kl = kl + 0.5 * normalized_kl(mu, logvar)
    torch.testing.assert_close(z[0].norm(dim=1), torch.ones(6))
    torch.testing.assert_close(losses["main"], nt_xent(z[0], z[1], 0.1)[0] + kl)
    torch.testing.assert_close(logs["loss/kl"], kl.detach())
    # the same step draws the same samples; another step other ones
    again, _ = method.training_step(b, Progress(0, 3))
    other, _ = method.training_step(b, Progress(0, 4))
    torch.testing.assert_close(again["main"], losses["main"])
    assert not torch.allclose(other["main"], losses["main"])


def test_vmoco_queries_are_samples_and_keys_the_normalised_posterior_mean():
    method, b = make("vmoco"), batch()
    queue_before = method.queue.clone()
    losses, logs = method.training_step(b, Progress(0, 0))
    mu_k, _ = method.key_projector(method.key_encoder(b.views[1], b.lengths[:, 1]))
    torch.testing.assert_close(method.queue[:6], F.normalize(mu_k, dim=1))  # what the queue stores
    mu, logvar = method.posterior(b.views[0], b.lengths[:, 0])
    q = sample_projected_normal(mu, logvar, generator=step_generator(0, 0, 0, mu.device))
    expected = info_nce(q, F.normalize(mu_k, dim=1), queue_before, 0.07)[0] + normalized_kl(mu, logvar)
    torch.testing.assert_close(losses["main"], expected)
    assert "loss/kl" in logs
    assert all(not p.requires_grad for p in method.key_projector.parameters())


def test_supcon_and_vsupcon_auxiliary_losses():
    feats, labels = torch.randn(8, 12), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    plain = SupervisedContrast(SupConSettings(enabled=True, hidden=16, dim=8, weight=2.0), in_dim=12)
    terms = plain(feats, labels, torch.arange(8))
    torch.testing.assert_close(terms["loss_supcon"], 2.0 * supcon(F.normalize(plain.projector(feats), dim=1), labels))
    variational = SupervisedContrast(SupConSettings(enabled=True, variational=True, hidden=16, dim=8, beta=0.3),
                                     in_dim=12, seed=5)
    terms = variational(feats, labels, torch.arange(8))
    mu, logvar = variational.projector(feats)
    z = sample_projected_normal(mu, logvar, generator=step_generator(5, 0, 0, mu.device))
    torch.testing.assert_close(terms["loss_supcon"], supcon(z, labels))
    torch.testing.assert_close(terms["loss_kl"], 0.3 * normalized_kl(mu, logvar))
    assert variational.name == "vsupcon" and int(variational.calls) == 1


def test_settings_are_checked():
    with pytest.raises(ConfigError, match=r"vcl.beta: expected a number >= 0"):
        load_config(None, ["method=vsimclr", "vcl.beta=-1"])
    with pytest.raises(ConfigError, match=r"simclr.temperature: expected a positive number"):
        load_config(None, ["method=simclr", "simclr.temperature=0"])
    with pytest.raises(ConfigError, match=r"unknown key 'vcl.beta' for method 'simclr'; vcl.\* needs --method one of"):
        load_config(None, ["method=simclr", "vcl.beta=1"])


@pytest.mark.parametrize("method", ["vsimclr", "vmoco"])
def test_variational_runs_resume_exactly(tiny_data_dir, tmp_path, method):
    base = [o for o in TINY_OVERRIDES if not o.startswith("moco.")] if method == "vsimclr" else TINY_OVERRIDES
    extra = ["simclr.mlp_hidden=16", "simclr.feature_dim=8"] if method == "vsimclr" else []

    def cfg(epochs):
        return load_config(None, [f"data.path={tiny_data_dir}", f"run.out_dir={tmp_path}", *base, *extra,
                                  f"method={method}", f"optim.epochs={epochs}", "optim.milestones=[3]",
                                  "run.knn_every=0"])

    straight, _ = run_pretraining(cfg(4), run_dir=tmp_path / "a")
    split, _ = run_pretraining(cfg(2), run_dir=tmp_path / "b")
    run_pretraining(load_config(split / "config.yaml", ["optim.epochs=4"]), resume_dir=split)
    losses = [[r["train/loss"] for r in read_metrics(run) if "train/loss" in r] for run in (straight, split)]
    assert losses[0] == losses[1] and len(losses[0]) == 12
    a, b = (load_checkpoint(run / "checkpoints" / "last.pt")["method"] for run in (straight, split))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("method", ["vsimclr", "vmoco"])
def test_the_posterior_projector_is_built_once_not_over_the_parents(method, monkeypatch):
    """build_projector is the hook: the deterministic MLP of SimCLR / MoCo is never built (at
    the paper config it was 9M parameters built and thrown away), and the key projector of
    VMoCo is the posterior projector's momentum copy."""
    import sslskel.methods.base as base
    from sslskel.methods.vcl import PosteriorProjector

    def refuse(*args):
        raise AssertionError("projection_mlp built for a variational method")

    monkeypatch.setattr(base, "projection_mlp", refuse)
    model = make(method)
    assert isinstance(model.projector, PosteriorProjector)
    if method == "vmoco":
        assert isinstance(model.key_projector, PosteriorProjector)
        assert not any(p.requires_grad for p in model.key_projector.parameters())
        for q, k in zip(model.projector.parameters(), model.key_projector.parameters()):
            assert torch.equal(q, k)  # the key branch starts as a copy of the query branch
    expected = sum(p.numel() for p in PosteriorProjector(16, 16, 8).parameters())
    assert sum(p.numel() for p in model.projector.parameters()) == expected
