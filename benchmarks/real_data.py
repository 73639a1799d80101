"""Floors, random encoder, MoCo and HaLP on a real dataset folder, over seeds; prints JSON.

    python benchmarks/real_data.py ../shared/data/msr_action3d               # MSR Action3D
    python benchmarks/real_data.py /data/utd_mhad --config-dir configs/utd_mhad --seeds 0
    python benchmarks/real_data.py DIR --floors-only                          # seconds

What it measures, all on the dataset's standard split (cross-subject for MSR Action3D and
UTD-MHAD, cross-view for NW-UCLA):
- floors: cosine 1-NN and logistic regression on raw coordinates (every clip's valid frames
  resampled to 50 and flattened), for the config's normalisation and for each other
  `data.normalize` mode, so the effect of normalisation itself is visible;
- for each seed: MoCo and HaLP pretrained with the config's default recipe (the same code as
  `pretrain/run.py`), then the linear and kNN protocols (as `linear_eval/run.py`), and the
  same encoder with random weights;
- mean and population std over seeds of every number.
The config directory defaults to the one for the detected format (msr -> configs/msr_action3d,
utd -> configs/utd_mhad, ucla -> configs/nw_ucla). Runs go to --out-dir; JSON also to --out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from seed_study import run_study  # noqa: E402
from sslskel.data.build import load_data  # noqa: E402
from sslskel.data.readers import detect_format  # noqa: E402
from sslskel.engine.config import load_config  # noqa: E402
from sslskel.common.io import atomic_write_json  # noqa: E402
from sslskel.eval.baselines import logistic_floor, nearest_neighbour_floor, raw_clip_features  # noqa: E402

CONFIG_DIRS = {"msr": "msr_action3d", "utd": "utd_mhad", "ucla": "nw_ucla"}
FLOOR_FRAMES = 50


def floors(config_path: Path, overrides: list[str]) -> dict:
    """1-NN and logistic-regression top-1 on raw coordinates, per normalisation mode."""
    out = {}
    base = load_config(config_path, overrides)
    for mode in dict.fromkeys([base.data.normalize, "none", "center", "prenorm"]):
        cfg = load_config(config_path, [*overrides, f"data.normalize={mode}"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the readers' skipped-file warnings, once is enough
            train, val = load_data(cfg.data, "train"), load_data(cfg.data, "val")
        start = time.perf_counter()
        xtr, xva = raw_clip_features(train, FLOOR_FRAMES), raw_clip_features(val, FLOOR_FRAMES)
        out[f"{mode} -> {train.normalization}"] = {
            "one_nn": nearest_neighbour_floor(xtr, train.labels, xva, val.labels),
            "logistic": logistic_floor(xtr, train.labels, xva, val.labels),
            "seconds": round(time.perf_counter() - start, 2)}
    return {"frames": FLOOR_FRAMES, "train": len(train), "val": len(val), "by_normalize": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, help="dataset folder (or file) in any supported format")
    parser.add_argument("--config-dir", type=Path, help="folder with moco.yaml / halp.yaml (default: by format)")
    parser.add_argument("--methods", default="moco,halp")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--floors-only", action="store_true")
    parser.add_argument("--out-dir", type=Path, default=Path("runs") / "real_data")
    parser.add_argument("--out", type=Path, help="JSON file (default: OUT_DIR/<dataset>.json)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_intermixed_args()  # KEY=VALUE may follow the options

    file_format = detect_format(args.path, "train")
    config_dir = args.config_dir or REPO / "configs" / CONFIG_DIRS.get(file_format, "")
    if not (config_dir / "moco.yaml").is_file():
        parser.error(f"no moco.yaml in {config_dir}; pass --config-dir")
    overrides = [f"data.path={args.path}", f"run.out_dir={args.out_dir}", *args.overrides]
    result = {"path": str(args.path), "format": file_format, "config_dir": str(config_dir),
              "floors": floors(config_dir / "moco.yaml", overrides)}
    print(json.dumps({"floors": result["floors"]}), flush=True)
    if not args.floors_only:
        methods = [m for m in args.methods.split(",") if m]
        seeds = [int(s) for s in args.seeds.split(",") if s]
        study = run_study(config_dir, methods, seeds, overrides, log=lambda line: print(line, flush=True))
        result.update(study)
    atomic_write_json(args.out or args.out_dir / f"{config_dir.name}.json", result)
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
