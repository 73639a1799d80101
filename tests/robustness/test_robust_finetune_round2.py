"""Fine-tuning (the semi-supervised and supervised stages) keeps the pretraining's guarantees:
one writer per run directory, a non-finite loss as one error naming the last good checkpoint,
and a resume that cannot shorten a run."""

from __future__ import annotations

import pytest

from sslskel.common.checkpoint import load_checkpoint, seed_everything
from sslskel.common.run_lock import RunLockedError, run_lock
from sslskel.data.build import load_data
from sslskel.engine.config import resolved_config
from sslskel.engine.diverged import TrainingDivergedError
from sslskel.engine.finetune import FineTuner, finetune
from sslskel.errors import UserError
from sslskel.methods.base import build_method_encoder

FAST = ("finetune.optim.batch_size=16", "finetune.optim.epochs=2", "finetune.optim.milestones=[]",
        "run.progress=false")


def tune(cfg, run_dir, resume=False):
    train, val = load_data(cfg.data, "train"), load_data(cfg.data, "val")
    cfg = resolved_config(cfg, train)  # data.layout: auto -> the data's
    seed_everything(0)
    encoder = build_method_encoder(cfg, 3, 2)
    return finetune(cfg, encoder, train, val, run_dir=run_dir, progress=False, resume=resume)


def test_a_second_writer_of_a_fine_tuning_run_is_refused(tiny_config, tmp_path):
    cfg = tiny_config(*FAST)
    run_dir = tmp_path / "tune"
    run_dir.mkdir()
    with run_lock(run_dir):
        with pytest.raises(RunLockedError, match=rf"{run_dir}: lock: expected no other process writing this run"):
            tune(cfg, run_dir)
    assert not (run_dir / "checkpoints").exists()


def test_a_non_finite_fine_tuning_loss_is_one_error_naming_the_last_good_checkpoint(tiny_config, tmp_path,
                                                                                     monkeypatch):
    cfg = tiny_config(*FAST, "finetune.optim.epochs=3")
    run_dir = tmp_path / "tune"
    original, calls = FineTuner.losses, {"n": 0}

    def losses(self, batch):
        out = original(self, batch)
        calls["n"] += 1
        if calls["n"] > 3:  # the first epoch (3 batches of 16) trains; the second diverges
            out["loss"] = out["loss"] * float("inf")
        return out

    monkeypatch.setattr(FineTuner, "losses", losses)
    with pytest.raises(TrainingDivergedError) as info:
        tune(cfg, run_dir)
    assert isinstance(info.value, UserError)
    assert str(info.value).startswith(f"{run_dir}: loss: expected a finite training loss")
    assert str(info.value).endswith(f"last good checkpoint: {run_dir / 'checkpoints' / 'last.pt'} (epoch 1)")
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["epoch"] == 1


def test_a_fine_tuning_resume_to_fewer_epochs_than_done_is_an_error(tiny_config, tmp_path):
    run_dir = tmp_path / "tune"
    tune(tiny_config(*FAST), run_dir)
    with pytest.raises(UserError, match=r"finetune.optim.epochs: expected at least 2, the epochs .*last.pt holds"):
        tune(tiny_config(*FAST, "finetune.optim.epochs=1"), run_dir, resume=True)
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["epoch"] == 2
