"""End-to-end pretraining on tiny data: run directory contents, exact resume, interrupts."""

import dataclasses

import pytest
import torch

from sslskel.common.checkpoint import load_checkpoint
from sslskel.engine.config import load_config
from sslskel.engine.pretrain import run_pretraining
from sslskel.engine.run_log import read_metrics


def losses(run_dir):
    return [r["train/loss"] for r in read_metrics(run_dir) if "train/loss" in r]


@pytest.mark.parametrize("method", ["moco", "halp"])
def test_run_directory_has_everything(tiny_config, method):
    halp = ("halp.start_epoch=0", "halp.recent_keys=16", "halp.num_prototypes=3", "halp.num_positives=5")
    cfg = tiny_config(f"method={method}", *(halp if method == "halp" else ()))
    run_dir, summary = run_pretraining(cfg)
    assert run_dir.name.endswith(f"-{method}")
    for name in ("config.yaml", "checkpoints/last.pt", "checkpoints/epoch_0002.pt", "metrics.jsonl",
                 "summary.json"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "tensorboard").iterdir())
    assert summary["epochs"] == 2 and summary["steps"] == 6  # 48 samples / batch 16, 2 epochs
    records = read_metrics(run_dir)
    logged = [r["knn/top1_k1"] for r in records if "knn/top1_k1" in r]
    assert len(logged) == 2 and summary["knn/top1_k1"] == logged[-1]  # run.knn_every=1: once per epoch
    assert summary["knn/top1_k1"] > 100 / 3  # above chance: each of the 3 classes has its own posture
    assert {"train/lr", "train/samples_per_s", "sim/query_key", "queue/filled"} <= set(records[0])
    if method == "halp":
        assert any("halp/kept_fraction" in r for r in records)
    # the config as given, with data.layout / data.normalize (auto) as the tiny CMD files were read
    as_read = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, layout="ntu25", normalize="none"))
    assert load_config(run_dir / "config.yaml") == as_read and cfg.data.layout == "auto"


def test_resume_is_exact(tiny_config, tmp_path):
    extra = ("method=halp", "halp.start_epoch=1", "halp.recent_keys=16", "halp.num_prototypes=3",
             "halp.num_positives=5", "optim.epochs=4", "optim.milestones=[3]")
    straight, _ = run_pretraining(tiny_config(*extra), run_dir=tmp_path / "straight")
    first = tiny_config(*extra[:-2], "optim.epochs=2", "optim.milestones=[3]")
    split, _ = run_pretraining(first, run_dir=tmp_path / "split")
    resumed_cfg = load_config(split / "config.yaml", ["optim.epochs=4"])
    run_pretraining(resumed_cfg, resume_dir=split)

    assert losses(split) == losses(straight) and len(losses(straight)) == 12
    a = load_checkpoint(straight / "checkpoints" / "last.pt")["method"]
    b = load_checkpoint(split / "checkpoints" / "last.pt")["method"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_interrupt_keeps_the_last_good_checkpoint(tiny_config, tmp_path, monkeypatch):
    cfg = tiny_config("optim.epochs=3")
    from sslskel.methods.moco import MoCo

    original = MoCo.training_step
    calls = {"n": 0}

    def interrupted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # in the middle of epoch 2 (3 steps per epoch)
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MoCo, "training_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_pretraining(cfg, run_dir=tmp_path / "run")
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["epoch"] == 1 and state["step"] == 3
    monkeypatch.setattr(MoCo, "training_step", original)
    _, summary = run_pretraining(cfg, resume_dir=tmp_path / "run")
    assert summary["epochs"] == 3 and summary["steps"] == 9
    steps = [r["step"] for r in read_metrics(tmp_path / "run") if "train/loss" in r]
    assert steps == list(range(1, 10))  # lines of the cut-short epoch were dropped, none doubled


def test_too_small_training_split_is_a_clear_error(tiny_config):
    with pytest.raises(ValueError, match="fewer than optim.batch_size=64|one batch of optim.batch_size=64"):
        run_pretraining(tiny_config("optim.batch_size=64", "moco.queue_size=64"))


@pytest.mark.parametrize("encoder, args", [("stgcn", "{hidden_channels: 4, hidden_dim: 16}"),
                                           ("ctrgcn", "{base_channels: 8}")])
def test_graph_encoders_pretrain_with_moco(tiny_config, encoder, args):
    cfg = tiny_config(f"encoder.name={encoder}", f"encoder.args={args}", "optim.epochs=1",
                      "run.knn_every=0")
    _, summary = run_pretraining(cfg)
    assert summary["steps"] == 3 and summary["epoch/loss"] > 0


def test_excluded_classes_are_left_out_of_pretraining(tiny_config, capsys):
    from sslskel.engine.pretrain import load_splits

    cfg = tiny_config("data.exclude_classes=[1]")
    train, val = load_splits(cfg)
    full_train, full_val = load_splits(tiny_config())
    assert 1 not in set(train.labels.tolist()) and 1 not in set(val.labels.tolist())
    assert len(train) == int((full_train.labels != 1).sum()) and len(val) == int((full_val.labels != 1).sum())
    assert "data.exclude_classes: [1] left out of pretraining" in capsys.readouterr().out


@pytest.mark.parametrize("classes, match", [("[99]", "0-based ids"), ("[0,1,2]", "some class left")])
def test_excluded_classes_are_checked(tiny_config, classes, match):
    from sslskel.engine.pretrain import load_splits
    from sslskel.errors import UserError

    with pytest.raises(UserError, match=match):
        load_splits(tiny_config(f"data.exclude_classes={classes}"))
