"""Unit tests of the run lock, the torchrun launcher's error handling and the strict writers
(sslskel.common.run_lock, sslskel.common.launch, sslskel.common.io)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from sslskel.common import io
from sslskel.common.launch import USER_ERROR, record_user_error, user_error_exit
from sslskel.common.run_lock import LOCK_NAME, RunLockedError, run_lock
from sslskel.errors import UserError


def test_the_lock_names_its_holder_and_goes_with_a_clean_release(tmp_path):
    with run_lock(tmp_path):
        holder = (tmp_path / LOCK_NAME).read_text()
        assert holder.startswith(f"pid {os.getpid()} on host ")
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_lock_held_by_another_process_is_refused_until_it_exits(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys; from sslskel.common.run_lock import run_lock\n"
        f"with run_lock({str(tmp_path)!r}):\n    print('held', flush=True); sys.stdin.readline()")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLockedError, match=rf"got pid {holder.pid} on host "):
            with run_lock(tmp_path):
                pass
    finally:
        holder.kill()  # as a crash would: the file stays, the kernel drops the lock
        holder.wait()
    assert (tmp_path / LOCK_NAME).exists()
    with run_lock(tmp_path):
        assert (tmp_path / LOCK_NAME).read_text().startswith(f"pid {os.getpid()} ")


def failure(exitcode, message="", printed=False):
    return SimpleNamespace(exitcode=exitcode, message=message,
                           error_file_data={"message": message, "printed": printed} if message else {})


def test_the_launcher_prints_a_user_error_once_and_exits_2():
    line = "error: runs/x: lock: expected no other process writing this run, got pid 7"
    # every process failed alike and rank 0 printed: nothing more to print
    assert user_error_exit({0: failure(2, line, printed=True), 1: failure(2, line)}) == (USER_ERROR, None)
    # rank 0 was stopped before it could say it (or only rank 1 saw the error): the launcher says it
    assert user_error_exit({0: failure(-15), 1: failure(2, line)}) == (USER_ERROR, line)
    # a bug or a signal keeps torchrun's own report
    assert user_error_exit({0: failure(1, "Traceback ...")}) is None
    assert user_error_exit({1: failure(-9)}) is None


def test_a_worker_records_its_error_line_where_torchrun_reads_it(tmp_path, monkeypatch):
    path = tmp_path / "error.json"
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(path))
    record_user_error("error: x: y: expected z, got w", printed=False)
    data = json.loads(path.read_text())
    assert data["message"] == "error: x: y: expected z, got w" and data["printed"] is False
    monkeypatch.delenv("TORCHELASTIC_ERROR_FILE")
    record_user_error("error: not recorded", printed=True)  # outside torchrun: nothing to do
    assert json.loads(path.read_text())["printed"] is False


def test_a_full_disk_names_the_file_and_keeps_its_previous_version(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"
    path.write_text('{"old": 1}\n')

    def full(self, text, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(type(tmp_path), "write_text", full)
    with pytest.raises(io.DiskFullError, match=rf"{path}: write: expected free disk space for this file, got no "
                                               r"space left on device .*; the previous version is kept"):
        io.atomic_write_json(path, {"new": 2})
    monkeypatch.undo()
    assert path.read_text() == '{"old": 1}\n' and [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_json_is_written_strictly():
    assert io.finite_or_null({"a": [float("inf"), 1.0], "b": float("nan"), "c": "nan", "d": 3}) == \
        {"a": [None, 1.0], "b": None, "c": "nan", "d": 3}


def test_a_read_only_directory_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # as for another user's folder
    with pytest.raises(UserError, match=rf"{tmp_path}: write access: expected a directory this user can write"):
        io.require_writable_dir(tmp_path)
