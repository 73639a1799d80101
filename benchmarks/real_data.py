"""Methods on a real dataset folder over seeds: a caller of `sslskel compare`; floors per normalisation.

    python benchmarks/real_data.py ../shared/data/msr_action3d               # MSR Action3D
    python benchmarks/real_data.py /data/utd_mhad --seeds 0
    python benchmarks/real_data.py DIR --floors-only                          # seconds

Without --floors-only it runs `sslskel compare --data PATH --methods ... --seeds ...
--out OUT_DIR/<dataset>` (configs by the detected format: MSR Action3D -> configs/msr_action3d,
UTD-MHAD -> configs/utd_mhad, NW-UCLA -> configs/nw_ucla; or --config-dir): the methods
pretrained with the config's recipe, linear and kNN, the random encoder, the floors and the
supervised ceiling, in the study folder's report.md / results.json. With --floors-only it prints
the floors (raw 1-NN and logistic regression on 50 resampled frames) for the config's
normalisation and for each other `data.normalize` mode, so the effect of normalisation itself
is visible. Prints JSON (also written to --out).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sslskel.common.io import atomic_write_json  # noqa: E402
from sslskel.compare import main as compare  # noqa: E402
from sslskel.compare.floors import dataset_floors  # noqa: E402
from sslskel.compare.plan import find_config_dir  # noqa: E402
from sslskel.engine.config import load_config  # noqa: E402


def floors_by_normalize(config_path: Path, overrides: list[str]) -> dict:
    """{"<mode> -> <normalisation>": floors} for the config's mode and every other one."""
    base = load_config(config_path, overrides)
    out = {}
    for mode in dict.fromkeys([base.data.normalize, "none", "center", "prenorm"]):
        floors = dataset_floors(load_config(config_path, [*overrides, f"data.normalize={mode}"]))
        out[mode] = floors
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, help="dataset folder (or file) in any supported format")
    parser.add_argument("--config-dir", type=Path, help="folder with <method>.yaml (default: by format)")
    parser.add_argument("--methods", default="moco,halp")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--floors-only", action="store_true")
    parser.add_argument("--out-dir", type=Path, default=Path("runs") / "real_data")
    parser.add_argument("--out", type=Path, help="JSON file (default: OUT_DIR/<dataset>.json)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_intermixed_args()  # KEY=VALUE may follow the options

    config_dir, dataset = find_config_dir(args.path, args.config_dir)
    if args.floors_only:
        result = {"path": str(args.path), "config_dir": str(config_dir),
                  "floors": floors_by_normalize(config_dir / f"{args.methods.split(',')[0]}.yaml",
                                                [f"data.path={args.path}", *args.overrides])}
    else:
        study_dir = args.out_dir / dataset
        argv = ["--data", str(args.path), "--config-dir", str(config_dir), "--methods", args.methods,
                "--seeds", args.seeds, "--jobs", str(args.jobs), "--out", str(study_dir), *args.overrides]
        with contextlib.redirect_stdout(sys.stderr):  # progress and table; stdout is the JSON
            code = compare(argv)
        if code != 0:
            sys.exit(code)
        result = json.loads((study_dir / "results.json").read_text())
    atomic_write_json(args.out or args.out_dir / f"{dataset}.json", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
