"""Recovery: a run killed with SIGKILL at any point resumes exactly; a second writer of a live
run is refused and touches nothing of it; a resume with nothing to do changes nothing.

Killed runs are real processes (tests/robustness/crash_driver.py kills or pauses
pretrain/run.py at a chosen point); each is resumed and compared with one run of the same
config that was never interrupted: the same training losses step by step, the same final
weights, the same summary.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
import torch

from sslskel.common.checkpoint import load_checkpoint
from sslskel.engine.config import load_config
from sslskel.engine.pretrain import run_pretraining
from sslskel.engine.run_log import read_metrics

from support import REPO, TINY_OVERRIDES, load_script

DRIVER = REPO / "tests" / "robustness" / "crash_driver.py"
SETTINGS = [*TINY_OVERRIDES, "run.knn_every=0", "run.checkpoint_every=1", "run.threads=1"]
EPOCHS = 3  # 3 steps each (48 clips, batch 16)


def settings(data_dir, out_dir, epochs=EPOCHS):
    return [f"data.path={data_dir}", f"run.out_dir={out_dir}", *SETTINGS, f"optim.epochs={epochs}"]


@pytest.fixture(scope="module")
def straight(tiny_data_dir, tmp_path_factory):
    """The reference: EPOCHS epochs never interrupted."""
    root = tmp_path_factory.mktemp("straight")
    run_dir, _ = run_pretraining(script_config(settings(tiny_data_dir, root)), run_dir=root / "run")
    return run_dir


def script_config(overrides):
    """The config `pretrain/run.py --method moco OVERRIDES` trains."""
    return load_config(REPO / "configs" / "synthetic" / "moco.yaml", ["method=moco", *overrides])


def drive(point: str, n: int, argv: list[str], **popen) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **popen.pop("env", {})}
    env.pop("SSLSKEL_DEBUG", None)
    return subprocess.Popen([sys.executable, str(DRIVER), point, str(n), *argv], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def wait_until_holding(process: subprocess.Popen) -> list[str]:
    """The lines `process` printed until it paused (holding its run's lock)."""
    lines = []
    while (line := process.stdout.readline()) and line.strip() != "holding":
        lines.append(line.strip())
    assert line, f"the writer ended before pausing: {lines} {process.communicate()}"
    return lines


def train_losses(run_dir):
    return [(r["step"], r["train/loss"]) for r in read_metrics(run_dir) if "train/loss" in r]


def assert_same_run(run_dir, reference):
    assert train_losses(run_dir) == train_losses(reference)
    a = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    b = load_checkpoint(reference / "checkpoints" / "last.pt")
    assert (a["epoch"], a["step"]) == (b["epoch"], b["step"]) == (EPOCHS, 3 * EPOCHS)
    for key in b["method"]:
        assert torch.equal(a["method"][key], b["method"][key]), key
    assert (run_dir / "summary.json").read_text() == (reference / "summary.json").read_text()


# (point, occurrence, what the kill leaves behind)
KILLS = {
    "mid-epoch-2": ("step", 5, "last.pt of epoch 1, metrics lines of epoch 2 to drop"),
    "writing-last-pt-of-epoch-2": ("replace", 3, "a complete temporary file of last.pt, never renamed"),
    "writing-epoch-0002-pt": ("replace", 4, "last.pt of epoch 2, a temporary epoch_0002.pt"),
    "before-summary": ("summary", 1, "every checkpoint, no summary.json: the resume has nothing to train"),
}


@pytest.mark.parametrize("case", sorted(KILLS))
def test_a_run_killed_at_any_point_resumes_exactly(case, straight, tiny_data_dir, tmp_path, capsys):
    point, n, _ = KILLS[case]
    out = tmp_path / "runs"
    killed = drive(point, n, ["--method", "moco", *settings(tiny_data_dir, out)])
    _, err = killed.communicate(timeout=300)
    assert killed.returncode == -9, err
    (run_dir,) = out.iterdir()
    capsys.readouterr()
    assert load_script("pretrain/run.py").main(["--resume", str(run_dir)]) == 0
    if point == "summary":
        assert "nothing to do" in capsys.readouterr().out
    assert not list(run_dir.rglob("*.tmp")) and not (run_dir / ".lock").exists()
    assert_same_run(run_dir, straight)


@pytest.fixture
def two_epochs(straight, tiny_data_dir, tmp_path):
    """A run stopped cleanly after 2 of EPOCHS epochs."""
    run_dir, _ = run_pretraining(script_config(settings(tiny_data_dir, tmp_path, epochs=2)),
                                 run_dir=tmp_path / "run")
    return run_dir


def test_a_second_resume_of_a_live_run_is_refused_and_touches_nothing(two_epochs, straight, tmp_path, capsys):
    release = tmp_path / "release"
    first = drive("hold", 2, ["--resume", str(two_epochs), f"optim.epochs={EPOCHS}"],
                  env={"RELEASE_FILE": str(release)})
    try:
        wait_until_holding(first)  # paused inside epoch 3, holding the lock
        live_temporary = two_epochs / "checkpoints" / ".last.pt.live0001.tmp"  # as if mid-write
        live_temporary.write_bytes(b"a live writer's half-written checkpoint")
        before = {p: p.stat().st_mtime_ns for p in two_epochs.rglob("*")}
        capsys.readouterr()
        code = load_script("pretrain/run.py").main(["--resume", str(two_epochs), "optim.epochs=4"])
        err = capsys.readouterr().err
        assert code == 2, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {two_epochs}: lock: expected no other process")
        assert f"pid {first.pid} on host {socket.gethostname()}" in lines[0]
        assert {p: p.stat().st_mtime_ns for p in two_epochs.rglob("*")} == before
        live_temporary.unlink()
    finally:
        release.touch()
        _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert_same_run(two_epochs, straight)


def test_a_lock_left_by_a_killed_writer_is_stale(two_epochs, straight, tmp_path):
    release = tmp_path / "release"
    first = drive("hold", 2, ["--resume", str(two_epochs), f"optim.epochs={EPOCHS}"],
                  env={"RELEASE_FILE": str(release)})
    wait_until_holding(first)
    first.kill()
    first.communicate(timeout=60)
    assert (two_epochs / ".lock").is_file()  # the file stays; the kernel released the lock itself
    run_pretraining(load_config(two_epochs / "config.yaml", [f"optim.epochs={EPOCHS}"]), resume_dir=two_epochs)
    assert_same_run(two_epochs, straight)


def test_a_no_op_resume_of_a_finished_run_changes_nothing(straight, tmp_path, capsys):
    run_dir = shutil.copytree(straight, tmp_path / "run")
    before = {p: (p.stat().st_mtime_ns, p.is_dir() or p.read_bytes()) for p in [run_dir, *run_dir.rglob("*")]}
    time.sleep(0.01)  # a rewrite would show as a newer mtime
    capsys.readouterr()
    assert load_script("pretrain/run.py").main(["--resume", str(run_dir)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    after = {p: (p.stat().st_mtime_ns, p.is_dir() or p.read_bytes()) for p in [run_dir, *run_dir.rglob("*")]}
    assert after == before
