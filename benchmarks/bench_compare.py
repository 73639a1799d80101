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
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sslskel.compare import main as compare  # noqa: E402
from sslskel.compare.runner import available_cores  # noqa: E402

DEFAULT_OVERRIDES = ["optim.epochs=3", "optim.milestones=[2]", "run.knn_every=0", "run.checkpoint_every=3"]


def timed_study(out_dir: Path, jobs: int, args) -> float:
    argv = ["--methods", args.methods, "--seeds", args.seeds, "--protocols", "knn", "--no-floors",
            "--no-random-init", "--no-ceiling", "--jobs", str(jobs), "--cores", str(args.cores),
            "--out", str(out_dir), *DEFAULT_OVERRIDES, *args.overrides]
    start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # the study's progress; stdout is the JSON alone
        code = compare(argv)
    if code != 0:
        raise SystemExit(f"the study with --jobs {jobs} failed; see {out_dir}/logs")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="moco,halp")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--cores", type=int, default=available_cores())
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_compare") as tmp:
        one = timed_study(Path(tmp) / "jobs1", 1, args)
        two = timed_study(Path(tmp) / "jobs2", 2, args)
    print(json.dumps({"methods": args.methods, "seeds": args.seeds, "cores": args.cores,
                      "overrides": DEFAULT_OVERRIDES + args.overrides, "jobs1_seconds": round(one, 1),
                      "jobs2_seconds": round(two, 1), "speedup": round(one / two, 2)}, indent=2))


if __name__ == "__main__":
    main()
