"""Tests for sslskel.engine.finetune: learning, exact resume of a supervised CTR-GCN run with
SkeletonGCL, auxiliary losses summed and logged, clear errors for encoders without graphs,
P capping, logs and checkpoints."""

import numpy as np
import pytest
import torch

from sslskel.common.checkpoint import load_checkpoint, seed_everything
from sslskel.data.build import load_data
from sslskel.engine.config import resolved_config
from sslskel.engine.finetune import FineTuner, finetune, top_k
from sslskel.engine.run_log import read_metrics
from sslskel.eval.graph_distances import predict_with_graphs
from sslskel.methods.auxiliary import AuxiliaryLoss
from sslskel.methods.base import build_method_encoder
from sslskel.methods.gcl import build_graph_contrast as build_gcl
from sslskel.methods.gcl import graph_encoders, require_graphs

FAST = ("finetune.optim.batch_size=16", "finetune.optim.lr=0.05", "finetune.optim.milestones=[6]",
        "run.progress=false")
# a CTR-GCN small enough for tests: widths 8/16/32 on 16-frame clips; GCL banks sized to the
# tiny split (16 clips per class)
TINY_CTRGCN = ("encoder.name=ctrgcn", "encoder.args={base_channels: 8}", "gcl.per_class=32",
               "gcl.dim=16", "gcl.num_hard_positives=4", "gcl.num_hard_negatives=6",
               "gcl.num_random_negatives=6", "finetune.optim.nesterov=true", "finetune.optim.warmup_epochs=1")


def build_graph_contrast(cfg, encoder, train):
    return build_gcl(cfg.gcl, encoder, train, seed=cfg.run.seed)


def splits(cfg):
    """(cfg with the data's layout, train, val): the encoder is built from that cfg."""
    train, val = load_data(cfg.data, "train"), load_data(cfg.data, "val")
    return resolved_config(cfg, train), train, val


def fresh_encoder(cfg, seed=0):
    seed_everything(seed)
    return build_method_encoder(cfg, 3, 2)


def test_learns_the_tiny_data_far_above_chance(tiny_config):
    cfg = tiny_config(*FAST, "finetune.optim.epochs=6")
    cfg, train, val = splits(cfg)
    result = finetune(cfg, fresh_encoder(cfg), train, val, progress=False)
    assert result["final_top1"] >= 90.0  # 3 classes: chance is 33 %
    assert result["epochs"] == 6 and result["steps"] == 6 * 3  # 48 clips, batch 16
    assert len(result["history"]) == 6 and result["num_train"] == 48
    assert result["best_top1"] == max(h["top1"] for h in result["history"]) >= result["final_top1"]
    best = result["history"][result["best_epoch"] - 1]
    assert best["top1"] == result["best_top1"]
    assert result["history"][0]["loss"] > result["history"][-1]["loss"]
    assert all(h["train_seconds"] > 0 for h in result["history"])
    assert "loss_instance" not in result["history"][0] and result["aux_losses"] == []


def test_learning_rate_follows_warmup_and_milestones(tiny_config):
    cfg = tiny_config(*FAST, "finetune.optim.epochs=4", "finetune.optim.warmup_epochs=2",
                      "finetune.optim.milestones=[3]")
    cfg, train, val = splits(cfg)
    result = finetune(cfg, fresh_encoder(cfg), train, val, progress=False)
    assert [h["lr"] for h in result["history"]] == pytest.approx([0.025, 0.05, 0.05, 0.005])


def test_small_subset_keeps_its_last_partial_batch(tiny_config):
    cfg = tiny_config(*FAST, "finetune.optim.epochs=1")
    cfg, train, val = splits(cfg)
    result = finetune(cfg, fresh_encoder(cfg), train.subset(np.arange(5)), val, progress=False)
    assert result["steps"] == 1 and result["num_train"] == 5


def test_feeder_recipe_repeats_the_list_and_tests_on_its_own_view(tiny_config):
    """The CTR-GCN NW-UCLA recipe's pieces: finetune.repeat passes the list several times an
    epoch (steps scale with it), finetune.eval_augment picks the test view (the feeder's)."""
    cfg = tiny_config(*FAST, "finetune.optim.epochs=1", "finetune.augment=ucla_feeder_train",
                      "finetune.eval_augment=ucla_feeder_eval", "data.frames=12", "data.normalize=none")
    cfg, train, val = splits(cfg)
    once = FineTuner(cfg, fresh_encoder(cfg), train, val, progress=False)
    assert [type(s).__name__ for s in once.val_transform.steps[0].steps] == ["CenterOnFirstFrame", "MinMaxScale",
                                                                             "UniformFrames"]
    steps_once = once.fit()["steps"]
    twice = resolved_config(tiny_config(*FAST, "finetune.optim.epochs=1", "finetune.augment=ucla_feeder_train",
                                        "finetune.eval_augment=ucla_feeder_eval", "data.frames=12",
                                        "data.normalize=none", "finetune.repeat=3"), train)
    result = finetune(twice, fresh_encoder(twice), train, val, progress=False)
    assert steps_once == 3 and result["steps"] == 9 and result["num_train"] == len(train) == 48


def test_supervised_ctrgcn_with_gcl_resumes_exactly(tiny_config, tmp_path):
    def run(epochs, run_dir, resume=False):
        cfg = tiny_config(*FAST, *TINY_CTRGCN, f"finetune.optim.epochs={epochs}",
                          "finetune.optim.batch_size=24", "data.frames=8")
        cfg, train, val = splits(cfg)
        val = val.subset(np.arange(12))  # evaluation is not what this test is about: keep it short
        encoder = fresh_encoder(cfg)
        gcl = build_graph_contrast(cfg, encoder, train)
        return finetune(cfg, encoder, train, val, run_dir=run_dir, aux_losses=[gcl], progress=False,
                        resume=resume)

    straight = run(4, tmp_path / "straight")
    run(2, tmp_path / "split")
    resumed = run(4, tmp_path / "split", resume=True)
    keys = ("loss", "loss_ce", "loss_instance", "loss_semantic", "top1", "lr")
    assert [[h[k] for k in keys] for h in resumed["history"]] == \
        [[h[k] for k in keys] for h in straight["history"]]
    assert straight["history"][-1]["loss_instance"] > 0  # the banks were in use
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    for part in ("encoder", "classifier", "gcl"):
        sa, sb = (a["aux"][part], b["aux"][part]) if part == "gcl" else (a[part], b[part])
        assert sa.keys() == sb.keys()
        for key in sa:
            assert torch.equal(sa[key], sb[key]), (part, key)
    assert a["epoch"] == b["epoch"] == 4 and a["step"] == b["step"] == 8
    steps = [r["step"] for r in read_metrics(tmp_path / "split")]
    assert steps == [2, 4, 6, 8]  # one record per epoch, none doubled by the resume


def test_gcl_with_an_encoder_without_graphs_fails_clearly(tiny_config):
    cfg = tiny_config(*FAST, "gcl.enabled=true")  # the gcl section is there where a config names it
    cfg, train, _ = splits(cfg)
    encoder = fresh_encoder(cfg)  # the tiny config's GRU
    with pytest.raises(ValueError, match=r"BiGRUEncoder returns none.*ctrgcn"):
        build_graph_contrast(cfg, encoder, train)
    assert graph_encoders() == ["ctrgcn"]
    # the feature-contrast ablation needs no graphs
    feature_cfg = tiny_config(*FAST, "gcl.contrast=feature", "gcl.dim=8", "gcl.per_class=4")
    assert build_graph_contrast(feature_cfg, encoder, train).contrast == "feature"


def test_tiny_ctrgcn_with_gcl_end_to_end_caps_p(tiny_config, tmp_path, capsys):
    cfg = tiny_config(*FAST, *TINY_CTRGCN, "finetune.optim.epochs=2")
    cfg, train, val = splits(cfg)
    encoder = fresh_encoder(cfg)
    gcl = build_graph_contrast(cfg, encoder, train)
    assert gcl.instance_bank.per_class == 16  # 16 training clips per class < P = 32
    result = finetune(cfg, encoder, train, val, run_dir=tmp_path / "run", aux_losses=[gcl], progress=False)
    message = "P=32 capped at 16 (class 0 has only 16 training samples)"
    assert message in capsys.readouterr().out
    assert message in (tmp_path / "run" / "gcl_setup.txt").read_text()
    assert message in result["setup_messages"]["gcl"]
    records = read_metrics(tmp_path / "run")
    for key in ("loss_ce", "loss_instance", "loss_semantic", "train_seconds", "top1", "top5"):
        assert f"finetune/{key}" in records[-1], key
    assert records[-1]["finetune/loss"] == pytest.approx(
        records[-1]["finetune/loss_ce"] + records[-1]["finetune/loss_instance"]
        + records[-1]["finetune/loss_semantic"], rel=1e-5)
    assert int(gcl.instance_bank.fill_count.sum()) == 3 * 16  # the banks filled in training
    assert list((tmp_path / "run" / "tensorboard").iterdir())


def test_evaluation_does_not_touch_the_banks(tiny_config):
    cfg = tiny_config(*FAST, *TINY_CTRGCN, "finetune.optim.epochs=1")
    cfg, train, val = splits(cfg)
    encoder = fresh_encoder(cfg)
    tuner = FineTuner(cfg, encoder, train, val, aux_losses=[build_graph_contrast(cfg, encoder, train)],
                      progress=False)
    tuner.fit()
    gcl = tuner.aux_losses[0]
    banks = {k: v.clone() for k, v in gcl.state_dict().items()}
    tuner.evaluate()
    out = predict_with_graphs(tuner.encoder, tuner.classifier, tuner.val_loader, tuner.device, "off")
    assert out["scores"].shape == (24, 3) and out["graphs"].shape == (24, 3 * 25 * 25)
    for key, value in gcl.state_dict().items():
        assert torch.equal(value, banks[key]), key
    assert not tuner.encoder.training


def test_predict_graphs_are_person_and_channel_means(tiny_config):
    cfg = tiny_config(*FAST, *TINY_CTRGCN)
    cfg, train, val = splits(cfg)
    tuner = FineTuner(cfg, fresh_encoder(cfg), train, val, progress=False)
    out = predict_with_graphs(tuner.encoder, tuner.classifier, tuner.val_loader, tuner.device, "off")
    batch = next(iter(tuner.val_loader))
    with torch.no_grad():
        _, graphs = tuner.encoder(batch.views[0], batch.lengths[:, 0], return_graphs=True)
    n = batch.views[0].shape[0]
    for i in range(3):  # loop reference: sample i's persons 2i, 2i+1, mean over channels
        expected = torch.stack([graphs[2 * i + m].mean(dim=1) for m in range(2)]).mean(dim=0)
        np.testing.assert_allclose(out["graphs"][i], expected.reshape(-1).numpy(), rtol=1e-5, atol=1e-6)
    assert n == 24


def test_top_k_with_fewer_than_five_classes():
    scores = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1]])
    assert top_k(scores, np.array([1, 1])) == {"top1": 50.0, "top5": 100.0}


def test_require_graphs_accepts_classes_and_modules(tiny_config):
    from sslskel.models.ctrgcn import CTRGCN
    from sslskel.models.gru import BiGRUEncoder

    require_graphs(CTRGCN)
    with pytest.raises(ValueError, match="--graph-distances needs"):
        require_graphs(BiGRUEncoder, "--graph-distances")


class MeanFeature(AuxiliaryLoss):
    """A toy auxiliary loss with a parameter of its own and a step counter in a buffer."""

    def __init__(self, name, weight):
        super().__init__()
        self.name, self.weight = name, weight
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    def forward(self, inputs, labels, sample_index, num_persons=1):
        if self.training:
            self.calls += 1
        return {f"loss_{self.name}": self.weight * (self.scale * inputs).pow(2).mean()}


def test_auxiliary_losses_are_summed_logged_trained_and_checkpointed(tiny_config, tmp_path):
    cfg = tiny_config(*FAST, "finetune.optim.epochs=1")
    cfg, train, val = splits(cfg)
    aux = [MeanFeature("a", 0.5), MeanFeature("b", 0.25)]
    tuner = FineTuner(cfg, fresh_encoder(cfg), train, val, run_dir=tmp_path, aux_losses=aux, progress=False)
    batch = next(iter(tuner.loader))
    terms = tuner.losses(batch)
    assert sorted(terms) == ["loss", "loss_a", "loss_b", "loss_ce"]
    total = terms["loss_ce"] + terms["loss_a"] + terms["loss_b"]
    assert float(terms["loss"].detach()) == pytest.approx(float(total.detach()))
    result = tuner.fit()
    assert {"loss_a", "loss_b", "loss_ce"} <= set(result["history"][0])
    assert result["aux_losses"] == ["a", "b"]
    assert all(float(m.scale) != 1.0 for m in aux)  # their parameters were in the optimiser
    assert int(aux[0].calls) == 1 + 3  # the direct call + 3 training steps; evaluation never calls it
    state = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert sorted(state["aux"]) == ["a", "b"] and int(state["aux"]["b"]["calls"]) == 4
    with pytest.raises(ValueError, match="distinct names"):
        FineTuner(cfg, fresh_encoder(cfg), train, val, aux_losses=[MeanFeature("a", 1), MeanFeature("a", 1)])
