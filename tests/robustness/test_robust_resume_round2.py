"""Resume never destroys results, one writer per run, and run-time failures are one line.

Each test drives pretrain/run.py in-process (main(argv)) on a copy of one tiny two-epoch run
(periodic checkpoints every epoch), as a user would: a resume with nothing to do or too few
epochs, a resume that would change what the run means, a deleted last.pt, a full disk during a
checkpoint write, a loss that stops being finite. See test_robust_recovery.py for killed runs
and concurrent resumes.
"""

from __future__ import annotations

import contextlib
import errno
import json
import shutil
import subprocess

import pytest
import torch

from sslskel.common.checkpoint import load_checkpoint
from sslskel.common.io import atomic_write_json
from sslskel.common.run_lock import LOCK_NAME, RunLockedError, run_lock
from sslskel.engine.config import load_config
from sslskel.engine.pretrain import run_pretraining
from sslskel.engine.run_log import read_metrics
from sslskel.methods.moco import MoCo

from support import TINY_OVERRIDES, load_script

FAST = ["run.knn_every=0", "run.checkpoint_every=1"]


@pytest.fixture(scope="module")
def trained_run(tiny_data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("trained_round2")
    cfg = load_config(None, [f"data.path={tiny_data_dir}", f"run.out_dir={root / 'runs'}", *TINY_OVERRIDES,
                             *FAST, "run.knn_every=1"])
    run_dir, _ = run_pretraining(cfg, run_dir=root / "run")
    return run_dir


@pytest.fixture
def run(trained_run, tmp_path):
    """A fresh copy of the finished two-epoch run (3 steps per epoch, online kNN each epoch)."""
    return shutil.copytree(trained_run, tmp_path / "run")


def contents(run_dir):
    """Every path under run_dir with its bytes and mtime: equal means nothing was written."""
    return {p: (p.stat().st_mtime_ns, p.is_dir() or p.read_bytes()) for p in [run_dir, *run_dir.rglob("*")]}


def pretrain(capsys, *argv):
    capsys.readouterr()
    code = load_script("pretrain/run.py").main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


# -- a resume with nothing to do, or fewer epochs than done -------------------------------------
@pytest.mark.parametrize("extra", [[], ["optim.epochs=2"], ["run.threads=1", "run.progress=false"]])
def test_a_resume_with_nothing_to_do_changes_nothing_and_says_so(run, capsys, extra):
    summary = json.loads((run / "summary.json").read_text())
    assert "knn/top1_k1" in summary and "epoch/loss" in summary
    before = contents(run)
    code, out, _ = pretrain(capsys, "--resume", run, *extra)
    assert code == 0
    assert f"nothing to do: {run / 'checkpoints' / 'last.pt'} already holds all 2 epochs" in out
    assert f"unchanged: {run}/" in out and "wrote:" not in out
    assert contents(run) == before


def test_a_resume_to_fewer_epochs_than_done_is_an_error(run, capsys):
    before = contents(run)
    code, _, err = pretrain(capsys, "--resume", run, "optim.epochs=1")
    assert code == 2
    line = one_error_line(err)
    assert f"{run}: optim.epochs: expected at least 2, the epochs last.pt already holds" in line
    assert line.endswith("got 1")
    assert contents(run) == before


# -- settings that change what the run means ----------------------------------------------------
@pytest.mark.parametrize("override, key", [
    ("optim.batch_size=32", "optim.batch_size"),
    ("optim.lr=0.5", "optim.lr"),
    ("run.seed=3", "run.seed"),
    ("moco.queue_size=48", "moco.queue_size"),
    ("data.frames=12", "data.frames"),
    ("encoder.args.hidden_size=12", "encoder.args.hidden_size"),
])
def test_a_resume_refuses_settings_that_change_what_the_run_means(run, capsys, override, key):
    before = contents(run)
    code, _, err = pretrain(capsys, "--resume", run, override, "optim.epochs=3")
    assert code == 2
    line = one_error_line(err)
    assert line.startswith(f"error: {run}: {key}: expected ") and "the value the run was trained with" in line
    assert "a resume may change only optim.epochs" in line
    assert contents(run) == before


def test_a_resume_refuses_a_hand_edited_config_yaml(run, capsys):
    text = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(text.replace("batch_size: 16", "batch_size: 32", 1))
    code, _, err = pretrain(capsys, "--resume", run, "optim.epochs=3")
    assert code == 2 and f"{run}: optim.batch_size: expected 16" in one_error_line(err)


def test_a_resume_may_change_the_length_and_how_it_runs(run, capsys):
    code, out, err = pretrain(capsys, "--resume", run, "optim.epochs=3", "run.threads=1", "run.progress=false",
                              "run.log_every=2", "run.checkpoint_every=0", "run.knn_every=0", "data.num_workers=0")
    assert code == 0, err
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 3


# -- a deleted last.pt ---------------------------------------------------------------------------
def test_a_deleted_last_pt_falls_back_to_the_newest_periodic_checkpoint_and_says_which(run, capsys):
    (run / "checkpoints" / "last.pt").unlink()
    newest = run / "checkpoints" / "epoch_0002.pt"
    with pytest.warns(UserWarning, match=rf"last\.pt: file: .*no such file; resuming from the newest periodic "
                                         rf"checkpoint that loads: {newest} \(epoch 2\)"):
        code, out, err = pretrain(capsys, "--resume", run, "optim.epochs=3")
    assert code == 0, err
    assert f"resuming {run} from {newest} (epoch 2 of 3)" in out
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 3


def test_a_deleted_last_pt_with_the_run_finished_at_that_epoch_is_a_no_op(run, capsys):
    (run / "checkpoints" / "last.pt").unlink()
    with pytest.warns(UserWarning, match="epoch_0002.pt"):
        code, out, _ = pretrain(capsys, "--resume", run)
    assert code == 0 and "nothing to do" in out
    assert not (run / "checkpoints" / "last.pt").exists()


# -- one writer per run --------------------------------------------------------------------------
def test_a_resume_of_a_run_another_process_writes_is_refused_naming_it(run, capsys):
    orphan = run / "checkpoints" / ".last.pt.live0001.tmp"
    orphan.write_bytes(b"the live writer's temporary file")
    with run_lock(run):  # as another writer would (flock locks are per open file, even in one process)
        before = contents(run)
        code, _, err = pretrain(capsys, "--resume", run, "optim.epochs=3")
        assert code == 2
        line = one_error_line(err)
        holder = (run / LOCK_NAME).read_text().strip()
        assert line == (f"error: {run}: lock: expected no other process writing this run (one writer per run), "
                        f"got {holder}; wait for it to finish or stop it, then retry")
        assert holder.startswith("pid ") and " on host " in holder
        assert contents(run) == before and orphan.exists()
    assert not (run / LOCK_NAME).exists()  # released cleanly: the file goes


def test_the_lock_refuses_a_second_holder_and_frees_after_release(tmp_path):
    with run_lock(tmp_path):
        with pytest.raises(RunLockedError, match=r"lock: expected no other process writing this run"):
            with run_lock(tmp_path):
                pass
    with run_lock(tmp_path):
        pass


# -- a full disk during a checkpoint write ------------------------------------------------------
def test_a_full_disk_during_a_checkpoint_write_says_so_and_keeps_the_old_checkpoint(run, capsys, monkeypatch):
    last = run / "checkpoints" / "last.pt"
    old = last.read_bytes()
    real_save = torch.save

    def save_until_full(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)  # the bytes go out, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", save_until_full)
    code, _, err = pretrain(capsys, "--resume", run, "optim.epochs=3")
    assert code == 2
    line = one_error_line(err)
    assert line.startswith(f"error: {last}: write: expected free disk space for this file, got no space left")
    assert "the previous version is kept" in line
    assert last.read_bytes() == old and load_checkpoint(last)["epoch"] == 2
    assert not list(run.rglob("*.tmp"))


# -- a loss that stops being finite --------------------------------------------------------------
def nan_from_step(monkeypatch, n):
    original, calls = MoCo.training_step, {"n": 0}

    def step(self, *args, **kwargs):
        losses, logs = original(self, *args, **kwargs)
        calls["n"] += 1
        return ({"main": losses["main"] * float("nan")} if calls["n"] >= n else losses), logs

    monkeypatch.setattr(MoCo, "training_step", step)


def test_a_non_finite_loss_is_one_line_naming_the_last_good_checkpoint(run, capsys, monkeypatch):
    nan_from_step(monkeypatch, 2)
    code, _, err = pretrain(capsys, "--resume", run, "optim.epochs=3")
    assert code == 2
    line = one_error_line(err)
    assert line.startswith(f"error: {run}: loss: expected a finite training loss")
    assert line.endswith(f"got train: loss is nan at epoch 2, step 7; last good checkpoint: "
                         f"{run / 'checkpoints' / 'last.pt'} (epoch 2)")
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 2


def test_a_new_run_whose_loss_is_not_finite_before_any_checkpoint_leaves_no_directory(tiny_data_dir, tmp_path,
                                                                                    capsys, monkeypatch):
    nan_from_step(monkeypatch, 1)
    code, _, err = pretrain(capsys, "--method", "moco", f"data.path={tiny_data_dir}", f"run.out_dir={tmp_path}",
                            *TINY_OVERRIDES, *FAST)
    assert code == 2
    line = one_error_line(err)
    assert "loss is nan at epoch 0, step 0; no checkpoint was written yet; the new run directory was removed" in line
    assert list(tmp_path.iterdir()) == []


def test_summary_json_holds_no_infinity_or_nan(tmp_path):
    path = tmp_path / "summary.json"
    atomic_write_json(path, {"epoch/loss": float("inf"), "knn": [1.5, float("nan")], "steps": 3})
    assert json.loads(path.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in JSON")) == \
        {"epoch/loss": None, "knn": [1.5, None], "steps": 3}


def test_metrics_keep_the_epochs_a_resume_retrained_once(run, capsys):
    (run / "checkpoints" / "last.pt").unlink()
    (run / "checkpoints" / "epoch_0002.pt").unlink()
    with pytest.warns(UserWarning, match="epoch_0001.pt"):
        assert pretrain(capsys, "--resume", run, "optim.epochs=2")[0] == 0
    steps = [r["step"] for r in read_metrics(run) if "train/loss" in r]
    assert steps == list(range(1, 7))


@contextlib.contextmanager
def read_only(folder):
    """`folder` made immutable (chattr +i): read-only even for root, who ignores permissions."""
    made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"needs chattr +i on {folder} (root on ext4 or similar): {made.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_resume_of_a_read_only_run_directory_fails_at_once_naming_it(run, capsys, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the data was read: the check came too late")

    monkeypatch.setattr("sslskel.engine.pretrain.load_splits", never)
    before = contents(run)
    with read_only(run):
        code, _, err = pretrain(capsys, "--resume", run, "optim.epochs=3")
    assert code == 2
    assert one_error_line(err) == (f"error: {run}: write access: expected a directory this user can write (a "
                                   f"resume writes into it), got a read-only directory; nothing was changed")
    assert contents(run) == before
