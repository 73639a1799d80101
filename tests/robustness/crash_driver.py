"""Run pretrain/run.py in this process and kill it with SIGKILL (or hold it) at a chosen point.

    python tests/robustness/crash_driver.py POINT N [pretrain/run.py arguments...]

POINT says where, N which occurrence (1 = the first):
    step     at the start of the Nth training step
    replace  inside the Nth atomic write of a checkpoint, its temporary file complete but not
             yet renamed over the destination
    summary  after the last checkpoint, before summary.json is written (N is ignored)
    hold     at the start of the Nth training step, wait until the file named by the
             environment variable RELEASE_FILE exists, then go on (a live writer paused)

The test side (test_robust_recovery.py) resumes what the kill left and compares it with a run
that was never interrupted. Only test code patches anything here; sslskel has no kill hooks.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def on_nth_step(n: int, action) -> None:
    from sslskel.methods.moco import MoCo

    original, calls = MoCo.training_step, {"n": 0}

    def step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            action()
        return original(self, *args, **kwargs)

    MoCo.training_step = step


def on_nth_checkpoint_rename(n: int) -> None:
    original, calls = os.replace, {"n": 0}

    def replace(src, dst, *args, **kwargs):
        if str(dst).endswith(".pt"):
            calls["n"] += 1
            if calls["n"] == n:
                die()
        return original(src, dst, *args, **kwargs)

    os.replace = replace


def before_summary() -> None:
    import sslskel.engine.pretrain as pretrain

    original = pretrain.atomic_write_json

    def write(path, obj):
        if Path(path).name == "summary.json":
            die()
        return original(path, obj)

    pretrain.atomic_write_json = write


def wait_for_release() -> None:
    release = Path(os.environ["RELEASE_FILE"])
    print("holding", flush=True)
    while not release.exists():
        time.sleep(0.05)


def main() -> None:
    point, n, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    sys.path.insert(0, str(REPO))
    if point == "step":
        on_nth_step(n, die)
    elif point == "replace":
        on_nth_checkpoint_rename(n)
    elif point == "summary":
        before_summary()
    elif point == "hold":
        on_nth_step(n, wait_for_release)
    else:
        raise SystemExit(f"unknown point {point!r}")
    sys.argv = [str(REPO / "pretrain" / "run.py"), *argv]
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
