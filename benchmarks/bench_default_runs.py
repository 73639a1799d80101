"""Wall time of every default pretraining command, as a new user runs it.

Runs ``python pretrain/run.py --method M`` for each method one after the other (the embedded
synthetic set, every setting at its default, ``run.threads: auto`` included), each in a fresh
process, and prints one JSON object: wall seconds, CPU seconds, peak resident memory (from
``os.wait4``, the run's own process), the thread count the run chose, how many cores other
processes kept busy when it started and while it ran, and the run's last kNN top-1.

    python benchmarks/bench_default_runs.py --methods moco,halp --out /tmp/default_runs

The other load is read from /proc/stat, so a run that was not alone says so in the output
instead of passing for an idle-machine time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from sslskel.common.threads import cpu_times

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("moco", "halp", "cvmim", "vmoco", "simclr", "vsimclr")


def _busy_cores(before, after, own_cpu_seconds: float, wall: float) -> float | None:
    if before is None or after is None or after[1] <= before[1]:
        return None
    cpus = os.cpu_count() or 1
    busy = (after[0] - before[0]) / (after[1] - before[1]) * cpus
    return max(0.0, busy - own_cpu_seconds / wall)


def run_one(method: str, out_dir: Path, extra: list[str]) -> dict:
    run_dir = out_dir / method
    cmd = [sys.executable, str(ROOT / "pretrain" / "run.py"), "--method", method,
           f"run.out_dir={run_dir}", *extra]
    log_path = out_dir / f"{method}.log"
    before = cpu_times()
    start = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    after = cpu_times()
    text = log_path.read_text()
    threads = re.search(r"threads: (\d+) \(([^)]*)\)", text)
    summary_files = sorted(run_dir.glob("**/summary.json"))
    summary = json.loads(summary_files[-1].read_text()) if summary_files else {}
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "method": method,
        "exit": os.waitstatus_to_exitcode(status),
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "threads": int(threads.group(1)) if threads else None,
        "threads_reason": threads.group(2) if threads else None,
        "other_busy_cores_during_run": _round(_busy_cores(before, after, cpu, wall)),
        "knn": {k: v for k, v in summary.items() if k.startswith("knn/")},
        "log": str(log_path),
    }


def _round(value):
    return None if value is None else round(value, 2)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--out", type=Path, default=Path("/tmp/sslskel_default_runs"))
    parser.add_argument("overrides", nargs="*", help="key=value passed to every run (none: the defaults)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for method in args.methods.split(","):
        results.append(run_one(method, args.out, args.overrides))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(json.dumps({"cpus": os.cpu_count(), "overrides": args.overrides, "runs": results}, indent=1))


if __name__ == "__main__":
    main()
