"""bf16 autocast against fp32 in accuracy, paired by seed: two `sslskel compare` studies; prints JSON.

    python benchmarks/amp_accuracy.py --methods moco,halp --seeds 0,1,2 --jobs 2       # synthetic set
    python benchmarks/amp_accuracy.py --data ../shared/data/msr_action3d --methods moco,halp
    python benchmarks/amp_accuracy.py --out runs/amp --report-only                       # pair finished studies

Runs the same study twice, `run.amp=off` into OUT/fp32 and `run.amp=bf16` into OUT/bf16 (every
(method, seed) pretrained and evaluated by linear and kNN; no floors, random encoder or ceiling,
which precision does not touch), then pairs each method's seeds across the two: bf16 - fp32 in
points per protocol, the mean with its 95 % t interval and the per-seed differences. A rerun
skips every finished job (compare's config hashes), so a killed study continues.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from pair_studies import pair_arms  # noqa: E402

from sslskel.compare import main as compare  # noqa: E402

ARMS = {"fp32": "run.amp=off", "bf16": "run.amp=bf16"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="dataset folder (default: the synthetic set)")
    parser.add_argument("--methods", default="moco,halp")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs") / "amp_accuracy")
    parser.add_argument("--report-only", action="store_true", help="pair the two finished studies")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    for arm, amp in ARMS.items():
        argv = [*(["--data", args.data] if args.data else []), "--methods", args.methods, "--seeds", args.seeds,
                "--protocols", "linear,knn", "--no-floors", "--no-random-init", "--no-ceiling",
                "--out", str(args.out / arm), "--jobs", str(args.jobs),
                *(["--report-only"] if args.report_only else []), *args.overrides, amp]
        with contextlib.redirect_stdout(sys.stderr):  # compare's progress and tables; stdout is the JSON
            code = compare(argv)
        if code != 0:
            sys.exit(code)
    results = {arm: json.loads((args.out / arm / "results.json").read_text()) for arm in ARMS}
    print(json.dumps({"data": args.data or "synthetic", "seeds": args.seeds,
                      "pairs": pair_arms(results["fp32"], results["bf16"], ("fp32", "bf16"))}, indent=2))


if __name__ == "__main__":
    main()
