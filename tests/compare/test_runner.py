"""The job runner without training: markers, skipping, dependencies, failures, resume commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sslskel.compare.hashing import run_hash
from sslskel.compare.jobs import Job, marker_path, single_run_dir
from sslskel.compare.runner import Progress, eta_seconds, run_jobs, threads_per_job
from sslskel.engine.config import load_config


def writer_job(name: str, out: Path, deps=(), fail: bool = False) -> Job:
    """A job that appends its name to `out` (or exits 3)."""
    code = "import sys; sys.exit(3)" if fail else f"open({str(out)!r}, 'a').write({name!r} + '\\n')"

    def command(threads, dep_markers):
        assert set(dep_markers) == set(deps)  # what it needs has finished and is handed over
        return [sys.executable, "-c", code], None
    return Job(name, "test", f"k{abs(hash(name)) % 10**6}", deps=list(deps), command=command)


def test_jobs_run_once_in_dependency_order_and_are_skipped_after(tmp_path):
    out = tmp_path / "order.txt"
    jobs = [writer_job("b", out, deps=["a"]), writer_job("a", out), writer_job("c", out, deps=["b"])]
    lines = []
    result = run_jobs(jobs, tmp_path / "study", jobs_at_once=2, cores=2, log=lines.append)
    assert out.read_text().split() == ["a", "b", "c"]
    assert not result["failed"] and result["threads"] == 1
    marker = json.loads(marker_path(tmp_path / "study", jobs[0]).read_text())
    assert marker["returncode"] == 0 and marker["wall_s"] >= 0 and marker["peak_rss_mb"] > 0
    assert any("left" in line for line in lines)  # an ETA once a job has finished

    again = run_jobs(jobs, tmp_path / "study", jobs_at_once=2, cores=2, log=lines.append)
    assert out.read_text().split() == ["a", "b", "c"]  # nothing ran twice
    assert sorted(again["skipped"]) == ["a", "b", "c"]


def test_a_killed_study_reruns_only_what_had_not_finished(tmp_path):
    out = tmp_path / "order.txt"
    jobs = [writer_job("a", out), writer_job("b", out, deps=["a"])]
    run_jobs(jobs, tmp_path / "study", log=lambda line: None)
    marker_path(tmp_path / "study", jobs[1]).unlink()  # as if killed before b's marker was written
    run_jobs(jobs, tmp_path / "study", log=lambda line: None)
    assert out.read_text().split() == ["a", "b", "b"]


def test_a_failed_job_stops_its_dependants_only(tmp_path):
    out = tmp_path / "order.txt"
    jobs = [writer_job("bad", out, fail=True), writer_job("after", out, deps=["bad"]), writer_job("other", out)]
    result = run_jobs(jobs, tmp_path / "study", log=lambda line: None)
    assert out.read_text().split() == ["other"]
    failed = {f["name"]: f["error"] for f in result["failed"]}
    assert "exit code 3" in failed["bad"] and "needs failed" in failed["after"]
    assert not marker_path(tmp_path / "study", jobs[0]).exists()


def test_cores_are_divided_never_oversubscribed():
    assert threads_per_job(2, 1) == 2 and threads_per_job(2, 2) == 1 and threads_per_job(1, 4) == 1
    assert threads_per_job(16, 3) == 5


def test_eta_uses_the_mean_duration_of_each_kind():
    waiting = [Job("x", "pretrain", "k"), Job("y", "eval", "k"), Job("z", "floors", "k")]
    # pretrain 100 s, eval 10 s, floors unseen: the mean of all finished (70 s); over 2 processes
    assert eta_seconds({"pretrain": [100.0, 100.0], "eval": [10.0]}, waiting, 2) == (100 + 10 + 70) / 2


def test_eta_counts_what_running_jobs_have_left():
    durations = {"pretrain": [100.0], "eval": [10.0]}
    # a pretraining 30 s in has 70 s left; an eval past its mean counts 0, not a negative time
    running = [(Job("p", "pretrain", "k"), 30.0), (Job("e", "eval", "k"), 25.0)]
    assert eta_seconds(durations, [Job("y", "eval", "k")], 2, running) == (10 + 70 + 0) / 2


def test_progress_line_after_the_last_waiting_job_started_still_has_an_eta():
    lines, now = [], [0.0]
    progress = Progress(3, 2, lines.append, clock=lambda: now[0])
    first, second = Job("pretrain moco s0", "pretrain", "k"), Job("pretrain moco s1", "pretrain", "k")
    progress.start(first)
    now[0] = 20.0
    progress.start(second)
    now[0] = 600.0  # the first ends after 600 s; the second has run 580 s of its expected 600
    progress.finished({"name": first.name, "kind": "pretrain", "wall_s": 600.0, "peak_rss_mb": 500}, [], [second])
    assert lines[-1] == "[1/3] pretrain moco s0: 10 min, 500 MB; about 10 s left"
    progress.finished({"name": second.name, "kind": "pretrain", "wall_s": 600.0, "peak_rss_mb": 500}, [], [])
    assert lines[-1].endswith("; all done")


def test_a_run_killed_before_its_first_checkpoint_starts_again(tmp_path):
    killed = tmp_path / "20260101-000000-moco"
    killed.mkdir()
    (killed / "config.yaml").write_text("method: moco\n")
    assert single_run_dir(tmp_path, "checkpoints/last.pt") is None
    assert not killed.exists()  # nothing to resume from: removed, a fresh run follows

    resumable = tmp_path / "20260101-000001-moco"
    (resumable / "checkpoints").mkdir(parents=True)
    (resumable / "config.yaml").write_text("method: moco\n")
    (resumable / "checkpoints" / "last.pt").write_bytes(b"x")
    assert single_run_dir(tmp_path, "checkpoints/last.pt") == resumable


def test_the_hash_ignores_where_and_how_fast_a_run_ran():
    base = load_config(None, ["optim.lr=0.001"])
    same = load_config(None, ["optim.lr=0.001", "run.out_dir=/elsewhere", "run.threads=4", "run.progress=false"])
    other = load_config(None, ["optim.lr=0.002"])
    assert run_hash(base) == run_hash(same) != run_hash(other)
    assert run_hash(base) != run_hash(base, "supervised")


@pytest.mark.parametrize("native_bf16", [True, False])
def test_the_hash_holds_the_precision_amp_resolves_to(monkeypatch, native_bf16):
    # `auto` is one run with the setting it resolves to on this CPU, and a different run elsewhere
    monkeypatch.setattr("sslskel.common.device.cpu_has_native_bf16", lambda: native_bf16)
    def key(*overrides, **kw):
        return run_hash(load_config(None, ["run.device=cpu", *overrides]), **kw)
    assert (key("run.amp=auto") == key("run.amp=bf16")) is native_bf16
    assert (key("run.amp=auto") == key("run.amp=off")) is not native_bf16
    # HaLP keeps fp32 on CPUs under auto; its supervised / fine-tuning runs follow run.amp as it is
    assert key("method=halp", "run.amp=auto") == key("method=halp", "run.amp=off")
    assert (key("method=halp", "run.amp=auto", method_rule=False)
            == key("method=halp", "run.amp=bf16", method_rule=False)) is native_bf16


DRIVER = """
import sys
from pathlib import Path
from sslskel.compare.jobs import Job
from sslskel.compare.runner import run_jobs
pid_file = Path(sys.argv[1])
code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
job = Job("sleeper", "test", "k1", command=lambda threads, deps: ([sys.executable, "-c", code], None))
run_jobs([job], pid_file.parent / "study", log=lambda line: None)
"""


def test_a_terminated_study_stops_its_running_job(tmp_path):
    pid_file = tmp_path / "child.pid"
    # started as a shell's background job is: SIGINT ignored, which its jobs must not inherit
    study = subprocess.Popen([sys.executable, "-c", DRIVER, str(pid_file)],
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    for _ in range(600):  # the child has started once it wrote its pid
        if pid_file.is_file() and pid_file.read_text():
            break
        time.sleep(0.1)
    child = int(pid_file.read_text())
    study.send_signal(signal.SIGTERM)
    assert study.wait(timeout=60) != 0
    for _ in range(300):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the job outlived the study")
    assert not (tmp_path / "study" / "done").exists()  # no marker: a rerun runs it again
