"""The thread policy (sslskel.common.threads): auto uses the cores other processes leave free."""

import os
import subprocess
import sys
import time

import pytest

from sslskel.common import threads
from sslskel.common.threads import ThreadChoice, busy_cores_elsewhere, choose_threads, usable_cores
from sslskel.engine.config import ConfigError, load_config


def test_usable_cores_is_the_affinity_mask():
    assert usable_cores() == min(len(os.sched_getaffinity(0)), usable_cores())
    assert 1 <= usable_cores() <= os.cpu_count()


def test_cgroup_quota_caps_the_cores(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert threads._cgroup_cpu_quota(tmp_path / "cpu.max") == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert threads._cgroup_cpu_quota(tmp_path / "cpu.max") is None
    assert threads._cgroup_cpu_quota(tmp_path / "missing") is None


@pytest.mark.parametrize("busy, cores, expected", [(0.0, 2, 2), (0.4, 2, 2), (0.6, 2, 1), (1.0, 2, 1),
                                                   (2.0, 2, 1), (3.0, 2, 1), (1.2, 8, 7), (5.5, 8, 2)])
def test_auto_uses_the_free_cores(monkeypatch, busy, cores, expected):
    monkeypatch.setattr(threads, "usable_cores", lambda: cores)
    monkeypatch.setattr(threads, "busy_cores_elsewhere", lambda seconds: busy)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    choice = choose_threads("auto")
    assert choice.threads == expected
    assert f"{busy:.1f} kept busy by other processes" in choice.reason


def test_auto_without_proc_stat_takes_every_core(monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    monkeypatch.setattr(threads, "cpu_times", lambda: None)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert choose_threads("auto") == ThreadChoice(4, "run.threads=auto: 4 usable cores, load unknown")


def test_auto_under_torchrun_divides_the_cores(monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 8)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "3")
    assert choose_threads("auto").threads == 2
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "16")
    assert choose_threads("auto").threads == 1


def test_explicit_counts_are_bounded_by_the_cores(monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    assert choose_threads(1) == ThreadChoice(1, "run.threads=1")
    assert choose_threads(0).threads == 2
    big = choose_threads(100000)  # once a segmentation fault inside OpenMP
    assert big.threads == 2 and "bounded by the 2 usable cores" in big.reason


def test_busy_cores_sees_another_busy_process():
    if not os.path.exists("/proc/stat"):
        pytest.skip("no /proc/stat on this system")
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it start spinning
        busy = busy_cores_elsewhere(0.5)
    finally:
        spinner.kill()
        spinner.wait()
    assert busy is not None and busy >= 0.7  # one spinning process is one busy core (plus any other load)


def test_busy_cores_does_not_count_this_process():
    if not os.path.exists("/proc/stat"):
        pytest.skip("no /proc/stat on this system")
    before = busy_cores_elsewhere(0.2)
    assert before is not None and 0 <= before <= os.cpu_count()


@pytest.mark.parametrize("value, expected", [("auto", "auto"), ("0", 0), ("3", 3)])
def test_config_accepts_auto_and_counts(value, expected):
    assert load_config(None, [f"run.threads={value}"]).run.threads == expected


@pytest.mark.parametrize("value", ["-1", "many", "1.5", "true"])
def test_config_refuses_other_values(value):
    with pytest.raises(ConfigError, match="run.threads"):
        load_config(None, [f"run.threads={value}"])


def test_default_is_auto():
    assert load_config(None, []).run.threads == "auto"
