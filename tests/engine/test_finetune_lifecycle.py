"""Fine-tuning runs on the shared `Trainer` lifecycle (sslskel.engine.trainer), so it has what
pretraining has: a checkpoint (last.pt and the periodic epoch_NNNN.pt) whenever a run_dir is
given, a resume that falls back to the newest periodic checkpoint that loads, and every
process's own RNG state back on resume. Each is checked against a plain reference: the same
run trained straight through."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sslskel import distributed
from sslskel.common.checkpoint import capture_rng_state, load_checkpoint, seed_everything
from sslskel.data.build import load_data
from sslskel.engine.config import resolved_config
from sslskel.engine.finetune import FineTuner
from sslskel.engine.run_log import read_metrics
from sslskel.methods.base import build_method_encoder

FAST = ("finetune.optim.batch_size=16", "finetune.optim.lr=0.05", "finetune.optim.milestones=[2]",
        "run.progress=false", "run.checkpoint_every=1")


def tuner(cfg, run_dir):
    train, val = load_data(cfg.data, "train"), load_data(cfg.data, "val")
    cfg = resolved_config(cfg, train)  # the encoder is built for the data's layout
    seed_everything(0)
    return FineTuner(cfg, build_method_encoder(cfg, 3, 2), train, val.subset(np.arange(12)), run_dir=run_dir,
                     progress=False)


def keyed(history):
    return [{k: v for k, v in h.items() if k != "train_seconds"} for h in history]


def assert_same_weights(a: dict, b: dict) -> None:
    for part in ("encoder", "classifier"):
        assert a[part].keys() == b[part].keys()
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), (part, key)


def test_a_fine_tuner_with_a_run_dir_checkpoints_every_epoch_and_periodically(tiny_config, tmp_path):
    cfg = tiny_config(*FAST, "finetune.optim.epochs=3", "run.checkpoint_every=2")
    tune = tuner(cfg, tmp_path / "tune")
    tune.fit()
    found = sorted(p.name for p in (tmp_path / "tune" / "checkpoints").iterdir())
    assert found == ["epoch_0002.pt", "last.pt"]
    last = load_checkpoint(tmp_path / "tune" / "checkpoints" / "last.pt")
    periodic = load_checkpoint(tmp_path / "tune" / "checkpoints" / "epoch_0002.pt")
    assert last["kind"] == periodic["kind"] == "finetune"
    assert (last["epoch"], last["step"], periodic["epoch"], periodic["step"]) == (3, 9, 2, 6)
    assert len(last["history"]) == 3 and len(periodic["history"]) == 2
    assert tune.saved == (tmp_path / "tune" / "checkpoints" / "last.pt", 3)
    assert [r["step"] for r in read_metrics(tmp_path / "tune")] == [3, 6, 9]


def test_without_a_run_dir_nothing_is_written(tiny_config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tune = tuner(tiny_config(*FAST, "finetune.optim.epochs=1"), None)
    tune.fit()
    assert tune.saved is None and list(tmp_path.iterdir()) == []
    assert tune.last_good() == "no checkpoint is kept without a run directory"


def test_a_resume_falls_back_to_the_newest_periodic_checkpoint_that_loads(tiny_config, tmp_path):
    straight = tuner(tiny_config(*FAST, "finetune.optim.epochs=3"), tmp_path / "straight")
    reference = straight.fit()

    tuner(tiny_config(*FAST, "finetune.optim.epochs=2"), tmp_path / "split").fit()
    checkpoints = tmp_path / "split" / "checkpoints"
    (checkpoints / "last.pt").write_bytes((checkpoints / "last.pt").read_bytes()[:100])  # a killed copy
    (checkpoints / "epoch_0002.pt").write_bytes(b"")  # broken too: epoch_0001.pt is the newest that loads
    resumed = tuner(tiny_config(*FAST, "finetune.optim.epochs=3"), tmp_path / "split")
    with pytest.warns(UserWarning, match=r"resuming from the newest periodic checkpoint that loads: .*epoch_0001.pt"):
        result = resumed.fit(resume=True)

    assert keyed(result["history"]) == keyed(reference["history"])
    assert_same_weights(load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt"),
                        load_checkpoint(checkpoints / "last.pt"))
    assert [r["step"] for r in read_metrics(tmp_path / "split")] == [3, 6, 9]


def test_an_interrupted_fine_tune_names_its_checkpoint_and_resumes_exactly(tiny_config, tmp_path, monkeypatch, capsys):
    cfg = tiny_config(*FAST, "finetune.optim.epochs=3")
    reference = tuner(cfg, tmp_path / "straight").fit()
    original, calls = FineTuner.losses, {"n": 0}

    def interrupted(self, batch):
        calls["n"] += 1
        if calls["n"] == 5:  # in the middle of epoch 2 (3 steps an epoch)
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(FineTuner, "losses", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tuner(cfg, tmp_path / "cut").fit()
    assert f"interrupted: {tmp_path / 'cut' / 'checkpoints' / 'last.pt'} holds epoch 1" in capsys.readouterr().out
    monkeypatch.setattr(FineTuner, "losses", original)
    result = tuner(cfg, tmp_path / "cut").fit(resume=True)
    assert keyed(result["history"]) == keyed(reference["history"])


def test_a_resume_gives_each_process_its_own_rng_state(tiny_config, tmp_path, monkeypatch):
    """Two processes' states in the checkpoint: rank 1 gets rank 1's back, not rank 0's."""
    cfg = tiny_config(*FAST, "finetune.optim.epochs=1")
    tuner(cfg, tmp_path / "tune").fit()
    path = tmp_path / "tune" / "checkpoints" / "last.pt"
    state = load_checkpoint(path)
    assert "rng_per_process" not in state  # one process wrote it
    torch.manual_seed(11)
    rank1 = capture_rng_state()
    state["rng_per_process"] = [state["rng"], rank1]
    resumed = tuner(tiny_config(*FAST, "finetune.optim.epochs=2"), tmp_path / "tune")
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    monkeypatch.setattr(distributed, "rank", lambda: 1)
    torch.manual_seed(99)
    resumed.load(path, state)
    assert torch.equal(torch.get_rng_state(), rank1["torch"])
    assert resumed.epoch == 1 and resumed.saved == (path, 1)


def test_a_fine_tuning_checkpoint_under_two_processes_holds_both_rng_states(tiny_config, tmp_path, monkeypatch):
    tune = tuner(tiny_config(*FAST, "finetune.optim.epochs=1"), None)
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    monkeypatch.setattr(distributed, "all_gather_objects", lambda obj: [obj, "rank 1's"])
    state = tune.state()
    assert state["kind"] == "finetune" and state["rng_per_process"][1] == "rank 1's"
    assert torch.equal(state["rng_per_process"][0]["torch"], state["rng"]["torch"])
