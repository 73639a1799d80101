"""A resume cannot corrupt a run, and a failed start leaves nothing behind.

One tiny two-epoch run (periodic checkpoints every epoch) is trained once per module; each
test damages a copy of it and resumes the copy.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from sslskel.engine.config import load_config
from sslskel.engine.pretrain import run_pretraining
from sslskel.engine.run_log import read_metrics
from sslskel.errors import CheckpointError, UserError
from sslskel.methods.moco import MoCo

from support import TINY_OVERRIDES, load_script

FAST = ["run.knn_every=0", "run.checkpoint_every=1"]


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.fixture(scope="module")
def trained_run(tiny_data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("trained")
    cfg = load_config(None, [f"data.path={tiny_data_dir}", f"run.out_dir={root / 'runs'}",
                             *TINY_OVERRIDES, *FAST])
    run_dir, _ = run_pretraining(cfg, run_dir=root / "run")
    return run_dir


@pytest.fixture
def run(trained_run, tmp_path):
    """A fresh copy of the two-epoch run (last.pt, epoch_0001.pt, epoch_0002.pt hold 3 steps each)."""
    return shutil.copytree(trained_run, tmp_path / "run")


def resume(run_dir, *overrides):
    return run_pretraining(load_config(run_dir / "config.yaml", list(overrides)), resume_dir=run_dir)


def truncate(path, size=5000):
    path.write_bytes(path.read_bytes()[:size])


def train_steps(run_dir):
    return [r["step"] for r in read_metrics(run_dir) if "train/loss" in r]


def test_a_payload_last_pt_does_not_run_through_resume(run, tmp_path, capsys):
    marker = tmp_path / "PWNED"
    for path in (run / "checkpoints").glob("*.pt"):
        torch.save({"version": 3, "x": Payload(marker)}, path)
    code = load_script("pretrain/run.py").main(["--resume", str(run), "optim.epochs=3"])
    err = capsys.readouterr().err
    assert code == 2 and not marker.exists()
    assert f"{run / 'checkpoints' / 'last.pt'}: file: expected a weights-only sslskel checkpoint" in err
    assert "would run code" in err and "no periodic checkpoint" in err


def test_a_corrupt_last_pt_falls_back_to_the_newest_loadable_periodic_checkpoint(run):
    truncate(run / "checkpoints" / "last.pt")
    truncate(run / "checkpoints" / "epoch_0002.pt")  # the newest periodic one is damaged too
    fallback = r"last\.pt: file: .*truncated.*resuming from .*epoch_0001\.pt \(epoch 1\)"
    with pytest.warns(UserWarning, match=fallback):
        _, summary = resume(run, "optim.epochs=3")
    assert summary["epochs"] == 3 and summary["steps"] == 9
    assert train_steps(run) == list(range(1, 10))  # epoch 2's lines were dropped and retrained once


def test_a_corrupt_last_pt_without_periodic_checkpoints_is_named(run):
    truncate(run / "checkpoints" / "last.pt")
    for path in (run / "checkpoints").glob("epoch_*.pt"):
        path.unlink()
    config = (run / "config.yaml").read_bytes()
    with pytest.raises(CheckpointError, match=r"last\.pt: file: expected .*truncated.*no periodic checkpoint "
                                              r".*epoch_NNNN\.pt could be loaded \(0 found\)"):
        resume(run, "optim.epochs=3")
    assert (run / "config.yaml").read_bytes() == config


def test_an_override_the_checkpoint_does_not_fit_leaves_the_run_resumable(run, capsys):
    config = (run / "config.yaml").read_bytes()
    script = load_script("pretrain/run.py")
    code = script.main(["--resume", str(run), "encoder.args.hidden_size=12", "optim.epochs=3"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{run}: encoder.args.hidden_size: expected 8, the value the run was trained with" in err
    assert (run / "config.yaml").read_bytes() == config  # not rewritten by the failed resume
    assert script.main(["--resume", str(run), "optim.epochs=3"]) == 0
    assert load_config(run / "config.yaml").optim.epochs == 3


def test_a_partial_last_metrics_line_is_dropped_with_a_warning(run):
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 7, "train/lo')  # killed mid-write
    with pytest.warns(UserWarning, match=r"metrics\.jsonl: line \d+: dropped a partial last line"):
        resume(run, "optim.epochs=3")
    assert train_steps(run) == list(range(1, 10))


def test_a_corrupt_metrics_line_before_the_last_is_named(run):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    lines[1] = "garbage"
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=r"metrics\.jsonl: line 2: expected one JSON object per line, "
                                         r"got 'garbage'"):
        resume(run, "optim.epochs=3")


def test_orphan_temporary_files_are_removed_on_resume(run):
    orphans = [run / "checkpoints" / ".last.pt.k2j4x9_a.tmp", run / ".metrics.jsonl.abc12345.tmp",
               run / ".config.yaml.zzzzzzzz.tmp"]
    for path in orphans:
        path.write_bytes(b"half a file")
    resume(run, "optim.epochs=3")
    assert not any(path.exists() for path in orphans)


def interrupt_at_step(monkeypatch, n):
    original, calls = MoCo.training_step, {"n": 0}

    def step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MoCo, "training_step", step)


def test_ctrl_c_in_the_first_epoch_says_no_checkpoint_exists(tiny_config, tmp_path, monkeypatch, capsys):
    interrupt_at_step(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        run_pretraining(tiny_config(*FAST), run_dir=tmp_path / "run")
    out = capsys.readouterr().out
    assert "interrupted: no checkpoint was written yet" in out and "holds epoch" not in out
    assert not (tmp_path / "run" / "checkpoints" / "last.pt").exists()


def test_ctrl_c_after_a_resume_names_the_checkpoint_it_resumed_from(run, monkeypatch, capsys):
    interrupt_at_step(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        resume(run, "optim.epochs=3")
    assert f"interrupted: {run / 'checkpoints' / 'last.pt'} holds epoch 2; continue with --resume {run}" \
        in capsys.readouterr().out


def test_a_non_finite_loss_in_the_first_epoch_names_no_missing_checkpoint(tiny_config, tmp_path, monkeypatch):
    original = MoCo.training_step

    def nan_step(self, *args, **kwargs):
        losses, logs = original(self, *args, **kwargs)
        return {"main": losses["main"] * float("nan")}, logs

    monkeypatch.setattr(MoCo, "training_step", nan_step)
    with pytest.raises(FloatingPointError) as info:
        run_pretraining(tiny_config(*FAST), run_dir=tmp_path / "run")
    assert "no checkpoint was written yet" in str(info.value) and "last.pt" not in str(info.value)


def test_a_failed_start_leaves_no_run_directory(tiny_config, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="empty"):
        run_pretraining(tiny_config(f"data.path={empty}"))
    with pytest.raises(ValueError, match="fewer than optim.batch_size|one batch of optim.batch_size"):
        run_pretraining(tiny_config("optim.batch_size=64", "moco.queue_size=64"))
    runs = tmp_path / "runs"
    assert not runs.exists() or not list(runs.iterdir())


def test_a_bad_val_file_fails_at_start_even_without_online_knn(tiny_data_dir, tmp_path):
    data = shutil.copytree(tiny_data_dir, tmp_path / "data")
    val = data / "val_data_joint.npy"
    bad = np.load(val)
    bad[3, 0, 5, 2, 0] = np.inf
    np.save(val, bad)
    cfg = load_config(None, [f"data.path={data}", f"run.out_dir={tmp_path / 'runs'}", *TINY_OVERRIDES, *FAST])
    with pytest.raises(UserError, match="val_data_joint.npy"):
        run_pretraining(cfg)
    assert not (tmp_path / "runs").exists()
