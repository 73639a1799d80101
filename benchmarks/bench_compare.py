"""`sslskel compare --jobs 2` against `--jobs 1`: the same study twice, in fresh folders; prints JSON.

    python benchmarks/bench_compare.py                          # moco,halp x seeds 0,1, synthetic set
    python benchmarks/bench_compare.py --methods moco --seeds 0,1,2,3 optim.epochs=5

Each run pretrains every (method, seed) and runs the kNN protocol (no floors, random encoder or
ceiling, so the jobs are the parallel part). `--jobs 1` gives its one process all the cores;
`--jobs 2` gives each process cores // 2 threads. On 2 cores the target is a speedup of at
least 1.6 (two single-threaded processes instead of one process whose second thread gains
little). Measure on an otherwise idle machine: other processes on the cores make both slower
in different proportions.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sslskel.common.threads import cpu_times  # noqa: E402
from sslskel.compare import main as compare  # noqa: E402
from sslskel.compare.runner import available_cores  # noqa: E402

DEFAULT_OVERRIDES = ["optim.epochs=3", "optim.milestones=[2]", "run.knn_every=0", "run.checkpoint_every=3"]


def busy_elsewhere(before, after, own_cpu_seconds: float, wall: float) -> float | None:
    """Cores that processes other than the study kept busy on average (None: no /proc/stat)."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    busy = (after[0] - before[0]) / (after[1] - before[1]) * (os.cpu_count() or 1)
    return round(max(0.0, busy - own_cpu_seconds / wall), 2)


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    return sum(u.ru_utime + u.ru_stime for u in usage)


def timed_study(out_dir: Path, jobs: int, args) -> tuple[float, float | None]:
    """(wall seconds, cores other processes kept busy meanwhile)."""
    argv = ["--methods", args.methods, "--seeds", args.seeds, "--protocols", "knn", "--no-floors",
            "--no-random-init", "--no-ceiling", "--jobs", str(jobs), "--cores", str(args.cores),
            "--out", str(out_dir), *DEFAULT_OVERRIDES, *args.overrides]
    before, cpu_before, start = cpu_times(), children_cpu_seconds(), time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # the study's progress; stdout is the JSON alone
        code = compare(argv)
    if code != 0:
        raise SystemExit(f"the study with --jobs {jobs} failed; see {out_dir}/logs")
    wall = time.perf_counter() - start
    return wall, busy_elsewhere(before, cpu_times(), children_cpu_seconds() - cpu_before, wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="moco,halp")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--cores", type=int, default=available_cores())
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_compare") as tmp:
        one, load_one = timed_study(Path(tmp) / "jobs1", 1, args)
        two, load_two = timed_study(Path(tmp) / "jobs2", 2, args)
    # a measurement beside other work says so: the two phases may have shared the cores unequally
    print(json.dumps({"methods": args.methods, "seeds": args.seeds, "cores": args.cores,
                      "overrides": DEFAULT_OVERRIDES + args.overrides, "jobs1_seconds": round(one, 1),
                      "jobs2_seconds": round(two, 1), "speedup": round(one / two, 2),
                      "other_busy_cores": {"jobs1": load_one, "jobs2": load_two}}, indent=2))


if __name__ == "__main__":
    main()
