"""The floors of a dataset: what raw coordinates reach without an encoder (a study's job).

    python -m sslskel.compare.floors --config configs/msr_action3d/moco.yaml --out floors.json \\
        data.path=../shared/data/msr_action3d

Every clip's valid frames, normalised as the config says, resampled to 50 frames and
flattened: cosine 1-NN and L2-regularised logistic regression (sslskel.eval.baselines),
trained on the training split and scored on the test split. Writes one JSON object.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from ..common.cli import run_cli
from ..common.device import apply_run_settings
from ..common.io import atomic_write_json
from ..data.build import load_data
from ..engine.config import load_config
from ..eval.baselines import logistic_floor, nearest_neighbour_floor, raw_clip_features

FLOOR_FRAMES = 50


def dataset_floors(cfg, frames: int = FLOOR_FRAMES) -> dict:
    """{"one_nn", "logistic"} top-1 % on the test split, with what they were computed on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the readers' skipped-file warnings: pretraining shows them
        train, val = load_data(cfg.data, "train"), load_data(cfg.data, "val")
    start = time.perf_counter()
    xtr, xva = raw_clip_features(train, frames), raw_clip_features(val, frames)
    return {"one_nn": nearest_neighbour_floor(xtr, train.labels, xva, val.labels),
            "logistic": logistic_floor(xtr, train.labels, xva, val.labels),
            "frames": frames, "normalize": train.normalization, "train": len(train), "val": len(val),
            "seconds": round(time.perf_counter() - start, 2)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    return parser


def run(args, parser) -> int:
    cfg = load_config(args.config, args.overrides)
    apply_run_settings(cfg.run)
    result = dataset_floors(cfg)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out, result)
    print(result)
    return 0


def main(argv=None) -> int:
    return run_cli(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
