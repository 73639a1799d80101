"""Under torchrun a user error is one line, printed once, and the exit code is 2.

Two CPU processes (gloo) through `python -m sslskel.common.launch` (torchrun's arguments): a bad
config key that every process sees, and a run directory another process writes, which rank 0
alone checks (the lock) and tells the others. Plain `torchrun` prints the line once too (rank 0)
but ends with its own traceback and exit code 1, which only the launcher changes.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sslskel.common.run_lock import run_lock
from sslskel.engine.config import load_config
from sslskel.engine.pretrain import run_pretraining

from support import REPO, TINY_OVERRIDES

pytestmark = pytest.mark.slow  # two processes joining a process group: ~20 s a case


def launch(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("SSLSKEL_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "sslskel.common.launch", "--nproc_per_node", "2",
                           str(REPO / "pretrain" / "run.py"), *argv], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=300)


def assert_one_error_line(done: subprocess.CompletedProcess, *named: str) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "ChildFailedError" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    for text in named:
        assert text in errors[0], (text, errors[0])
    return errors[0]


def test_a_config_error_under_torchrun_is_one_line_and_exit_2(tiny_data_dir, tmp_path):
    done = launch("--method", "moco", f"data.path={tiny_data_dir}", f"run.out_dir={tmp_path}", "optim.lrr=1",
                  "run.threads=1")
    assert_one_error_line(done, "optim.lrr")
    assert not list(tmp_path.iterdir())


def test_a_locked_run_under_torchrun_is_refused_once_on_every_process(tiny_data_dir, tmp_path):
    cfg = load_config(None, [f"data.path={tiny_data_dir}", f"run.out_dir={tmp_path}", *TINY_OVERRIDES,
                             "run.knn_every=0", "optim.epochs=1"])
    run_dir, _ = run_pretraining(cfg, run_dir=tmp_path / "run")
    with run_lock(run_dir):
        done = launch("--resume", str(run_dir), "optim.epochs=2", "run.threads=1")
    assert_one_error_line(done, f"{run_dir}: lock: expected no other process", f"pid {os.getpid()}")
