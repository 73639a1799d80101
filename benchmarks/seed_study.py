"""Several methods over several seeds on the synthetic set: a caller of `sslskel compare`.

    python benchmarks/seed_study.py --methods moco,halp --seeds 0,1,2
    python benchmarks/seed_study.py --methods moco --seeds 0 optim.epochs=5   # overrides for all

The same as `sslskel compare --config-dir configs/synthetic --methods ... --seeds ...
--protocols linear,knn --out runs/seed_study`: every (method, seed) pretrained and evaluated
(linear and kNN), the random encoder, the floors and the supervised ceiling, in the study
folder's report.md and results.json (a rerun skips what has finished). Prints the summary of
results.json as JSON (also copied to --json when given).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sslskel.compare import main as compare  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="moco,halp")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--config-dir", type=Path, default=REPO / "configs" / "synthetic")
    parser.add_argument("--out", type=Path, default=Path("runs") / "seed_study", help="study folder")
    parser.add_argument("--json", type=Path, help="also copy results.json here")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--no-random", action="store_true", help="skip the random-init baseline")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    argv = ["--config-dir", str(args.config_dir), "--methods", args.methods, "--seeds", args.seeds,
            "--protocols", "linear,knn", "--out", str(args.out), "--jobs", str(args.jobs),
            *(["--no-random-init"] if args.no_random else []), *args.overrides]
    with contextlib.redirect_stdout(sys.stderr):  # progress and table; stdout is the JSON
        code = compare(argv)
    if code != 0:
        sys.exit(code)
    if args.json:
        shutil.copyfile(args.out / "results.json", args.json)
    print(json.dumps(json.loads((args.out / "results.json").read_text())["summary"], indent=2))


if __name__ == "__main__":
    main()
