"""Run a study's jobs: N subprocesses at a time, finished ones skipped, an ETA once one is done.

`--jobs N` runs N processes and gives each `cores // N` torch threads (`run.threads`, and
OMP_NUM_THREADS for its libraries): two threads contending for one core make a step many
times slower, so the cores are divided, never oversubscribed. A job whose marker exists is
skipped; a job runs once its dependencies have finished. Each job's output goes to
`STUDY/logs/<job>.log`; its wall time and peak resident memory (`os.wait4`, the child's own
rusage) go into its marker.

Example:
    summary = run_jobs(jobs, Path("runs/compare/x"), jobs_at_once=2, cores=2)
    summary["failed"]   # [] when every job finished
"""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from ..common.io import atomic_write_json
from .jobs import Job, marker_path, read_marker

LIVE: set[subprocess.Popen] = set()  # the jobs' processes now running: stopped with the study


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads_per_job(cores: int, jobs_at_once: int) -> int:
    """Torch threads for each of `jobs_at_once` processes sharing `cores` (at least 1).

    >>> threads_per_job(16, 3), threads_per_job(2, 2), threads_per_job(2, 4)
    (5, 1, 1)
    """
    return max(1, cores // jobs_at_once)


def interruptible() -> None:
    """In a job's process before it starts: SIGINT back to its default. A study started in the
    background by a shell ignores SIGINT, and a child would inherit that and not stop."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_one(job: Job, study_dir: Path, threads: int, deps: dict) -> dict:
    """Run the job's command; its marker (a dict) on success, a dict with "error" otherwise."""
    argv, run_dir = job.command(threads, deps)
    log_path = Path(study_dir) / "logs" / f"{job.slug}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    with open(log_path, "a") as log:
        log.write(f"$ {' '.join(argv)}\n")
        log.flush()
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   preexec_fn=interruptible)
        LIVE.add(process)
        try:
            _, status, usage = os.wait4(process.pid, 0)  # this child's own peak memory, not all children's
        finally:
            LIVE.discard(process)
        process.returncode = os.waitstatus_to_exitcode(status)
    record = {"name": job.name, "kind": job.kind, "key": job.key, "method": job.method, "seed": job.seed,
              "command": argv, "threads": threads, "wall_s": round(time.perf_counter() - start, 2),
              "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "log": str(log_path),
              "returncode": process.returncode,
              "resumed": "--resume" in argv}  # then wall_s covers the part after the restart only
    if process.returncode != 0:
        return {**record, "error": f"exit code {process.returncode}; see {log_path}"}
    located = job.locate()
    record["run_dir"] = str(run_dir or located) if (run_dir or located) else None
    record["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    atomic_write_json(marker_path(study_dir, job), record)
    return record


def format_seconds(seconds: float) -> str:
    """'45 s', '12 min', '2.5 h'.

    >>> format_seconds(45), format_seconds(720), format_seconds(9000)
    ('45 s', '12 min', '2.5 h')
    """
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def eta_seconds(durations: dict[str, list[float]], waiting: list[Job], jobs_at_once: int,
                running: list[tuple[Job, float]] = ()) -> float:
    """Remaining time: each waiting job as long as the mean finished job of its kind (of any
    kind when none of its kind has finished), each running job that mean less the seconds it
    has run (at least 0), all divided over the processes."""
    every = [d for values in durations.values() for d in values]
    if not every:
        return float("nan")
    fallback = sum(every) / len(every)

    def expected(job: Job) -> float:
        return sum(durations[job.kind]) / len(durations[job.kind]) if durations.get(job.kind) else fallback
    total = sum(expected(j) for j in waiting) + sum(max(expected(j) - ran, 0.0) for j, ran in running)
    return total / jobs_at_once


class Progress:
    """Lines like `[3/12] pretrain moco s0: 101 s, 410 MB; about 25 min left`."""

    def __init__(self, total: int, jobs_at_once: int, log, clock=time.monotonic):
        self.total, self.jobs_at_once, self.log, self.clock = total, jobs_at_once, log, clock
        self.done, self.durations, self.started = 0, {}, {}
        self.lock = threading.Lock()

    def start(self, job: Job) -> None:
        self.started[job.name] = self.clock()

    def finished(self, record: dict, waiting: list[Job], running: list[Job] = ()) -> None:
        with self.lock:
            self.done += 1
            self.durations.setdefault(record["kind"], []).append(record["wall_s"])
            now = self.clock()
            ran = [(j, now - self.started.get(j.name, now)) for j in running]
            eta = eta_seconds(self.durations, waiting, self.jobs_at_once, ran)
            left = f"; about {format_seconds(eta)} left" if waiting or running else "; all done"
            self.log(f"[{self.done}/{self.total}] {record['name']}: {format_seconds(record['wall_s'])}, "
                     f"{record['peak_rss_mb']:.0f} MB{left}")


def finished_markers(jobs: list[Job], study_dir: Path) -> dict:
    """{job name: marker} of the jobs that have finished."""
    return {j.name: m for j in jobs if (m := read_marker(study_dir, j)) is not None}


def stop_live_jobs(signum=None, frame=None) -> None:
    """Interrupt every running job (SIGINT: each entry point leaves its run resumable); as a
    signal handler (SIGTERM on the study), then end the study with KeyboardInterrupt."""
    for process in list(LIVE):
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
    if signum is not None:
        raise KeyboardInterrupt


def run_jobs(jobs: list[Job], study_dir: Path, jobs_at_once: int = 1, cores: int | None = None,
             log=print) -> dict:
    """Run what has not finished; {"markers": {name: marker}, "failed": [...], "skipped": [...]}."""
    study_dir = Path(study_dir)
    threads = threads_per_job(cores or available_cores(), jobs_at_once)
    markers = finished_markers(jobs, study_dir)
    skipped = list(markers)
    if skipped:
        log(f"{len(skipped)} of {len(jobs)} jobs finished earlier (same config hash): skipped")
    waiting = [j for j in jobs if j.name not in markers]
    log(f"{len(waiting)} jobs to run, {jobs_at_once} at a time, {threads} thread(s) each")
    progress = Progress(len(waiting), jobs_at_once, log)
    failed, running = [], {}
    previous = signal.signal(signal.SIGTERM, stop_live_jobs) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        with ThreadPoolExecutor(jobs_at_once) as pool:
            try:
                schedule(pool, waiting, running, markers, failed, progress, study_dir, threads, jobs_at_once, log)
            except KeyboardInterrupt:  # before the pool waits for its threads: the jobs stop too,
                stop_live_jobs()       # each resumable, and a rerun continues where they were
                raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return {"markers": markers, "failed": failed, "skipped": skipped, "threads": threads}


def schedule(pool, waiting, running, markers, failed, progress, study_dir, threads, jobs_at_once, log) -> None:
    """Start ready jobs while fewer than `jobs_at_once` run; record each as it ends."""
    while waiting or running:
        blocked = [j for j in waiting if any(d in {f["name"] for f in failed} for d in j.deps)]
        for job in blocked:  # a dependency failed: it cannot run
            waiting.remove(job)
            failed.append({"name": job.name, "error": "a job it needs failed"})
        for job in [j for j in waiting if all(d in markers for d in j.deps)]:
            if len(running) >= jobs_at_once:
                break
            waiting.remove(job)
            log(f"start {job.name}")
            progress.start(job)
            running[pool.submit(run_one, job, study_dir, threads, {d: markers[d] for d in job.deps})] = job
        if not running:
            break
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            job, record = running.pop(future), future.result()
            if "error" in record:
                failed.append(record)
                log(f"FAILED {job.name}: {record['error']}")
            else:
                markers[job.name] = record
                progress.finished(record, waiting, list(running.values()))
