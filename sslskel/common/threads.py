"""How many CPU threads torch may use: the cores this process may run on that nobody else is using.

What benchmarks/bench_threads.py measured on a 2-core machine shapes this policy:

* torch's default of one thread per core is the fastest alone (a default MoCo step 0.19 s
  against 0.27 s on one thread), but next to busy processes its OpenMP threads spin while they
  wait and steal the shared core from the thread they wait for (4.4x slower beside one busy
  loop, 29x beside real training jobs).
* One thread per *free* core avoids that. Passive OpenMP waiting (`OMP_WAIT_POLICY=PASSIVE`)
  also avoids it, but made the 2-thread step 1.7x slower alone, so sslskel leaves it unset.

`run.threads: auto` therefore counts the usable cores (CPU affinity and a cgroup CPU quota),
subtracts what other processes keep busy over a short sample of /proc/stat, and uses the rest
(at least one). An explicit number is bounded by the usable cores.

Example:
    >>> choose_threads(1).threads
    1
    >>> choice = choose_threads("auto", sample_seconds=0.05)
    >>> 1 <= choice.threads <= usable_cores()
    True
"""

from __future__ import annotations

import math
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

AUTO = "auto"


@dataclass(frozen=True)
class ThreadChoice:
    threads: int
    reason: str  # one line for the log


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cores = min(cores, max(1, math.floor(quota)))
    return max(1, cores)


def _cgroup_cpu_quota(path: Path = Path("/sys/fs/cgroup/cpu.max")) -> float | None:
    """`cpu.max` holds 'QUOTA PERIOD' (or 'max PERIOD' for no limit)."""
    try:
        quota, period = path.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def cpu_times() -> tuple[float, float] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat; None where there is no /proc."""
    try:
        with open("/proc/stat") as f:
            fields = [float(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user time
    return total - idle, total


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def busy_cores_elsewhere(sample_seconds: float = 0.3) -> float | None:
    """How many cores other processes keep busy, averaged over a short sleep; None if unknown."""
    before, own_before, start = cpu_times(), _own_cpu_seconds(), time.monotonic()
    if before is None:
        return None
    time.sleep(sample_seconds)
    after, own_after, elapsed = cpu_times(), _own_cpu_seconds(), time.monotonic() - start
    if after is None or after[1] <= before[1]:
        return None
    cpus = os.cpu_count() or 1
    busy_fraction = (after[0] - before[0]) / (after[1] - before[1])
    own_cores = (own_after - own_before) / max(elapsed, 1e-9)
    return max(0.0, busy_fraction * cpus - own_cores)


def choose_threads(setting: int | str, sample_seconds: float = 0.3) -> ThreadChoice:
    """Threads for `run.threads` = `setting`: "auto", 0 (torch's default, one per core) or N."""
    cores = usable_cores()
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if setting == AUTO and local_processes > 1:  # torchrun: the processes on this machine share its cores
        return ThreadChoice(max(1, cores // local_processes), f"run.threads=auto: {cores} usable cores shared by "
                            f"{local_processes} processes on this machine")
    if setting == AUTO:
        busy = busy_cores_elsewhere(sample_seconds)
        if busy is None:
            return ThreadChoice(cores, f"run.threads=auto: {cores} usable cores, load unknown")
        threads = max(1, min(cores, round(cores - busy)))
        return ThreadChoice(threads, f"run.threads=auto: {cores} usable cores, {busy:.1f} kept busy by other processes")
    if setting == 0:
        return ThreadChoice(cores, "run.threads=0: torch's default, one per usable core")
    if setting > cores:
        return ThreadChoice(cores, f"run.threads={setting}, bounded by the {cores} usable cores")
    return ThreadChoice(int(setting), f"run.threads={setting}")
