"""The synthetic set on disk: generated once per configuration and kept in the CMD / HaLP
layout, written by the same writer as `python -m sslskel.data.prepare`.

Example:
    ensure_synthetic("xsub")   # -> <cache>/synthetic-<config hash>/xsub/, generated if missing
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..agcn_preprocess import pre_normalize
from ..container import SkeletonData
from ..files import temp_dir_beside
from ..ntu_raw import write_ntu_skeleton
from ..prepare import write_cmd_layout
from ..splits import ntu_split_mask
from .generator import SyntheticConfig, generate

BENCHMARKS = ("xsub", "xview")

# -- cache --------------------------------------------------------------------------------------
def cache_root(cache_dir=None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get("SSLSKEL_CACHE") or Path.home() / ".cache" / "sslskel")


CACHE_FILES = tuple(f"{split}_{kind}" for split in ("train", "val")
                    for kind in ("data_joint.npy", "num_frame.npy", "label.pkl"))


def is_complete(directory: Path) -> bool:
    return all((directory / f).is_file() for f in CACHE_FILES)


def write_benchmark_atomically(target: Path, data: SkeletonData, normalized: np.ndarray,
                               benchmark: str, cfg: SyntheticConfig) -> None:
    """Write the CMD files of one benchmark into a temp dir beside `target`, then rename it.
    If another process finished first, its copy is kept and ours discarded."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir_beside(target)
    try:
        for split in ("train", "val"):
            rows = np.flatnonzero(ntu_split_mask(data.meta, benchmark, split))
            write_cmd_layout(tmp, split, normalized[rows], num_frames=data.num_frames[rows],
                             labels=data.labels[rows], names=[data.names[i] for i in rows])
        (tmp / "synthetic_config.json").write_text(json.dumps(asdict(cfg), indent=1))
        try:
            os.rename(tmp, target)
        except OSError:
            if not is_complete(target):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def normalized_copy(data: SkeletonData) -> np.ndarray:
    """CMD pre-normalisation; frames after each sample's length set back to zero."""
    out = pre_normalize(data.data, data.num_frames)
    valid = np.arange(out.shape[2])[None, :] < data.num_frames[:, None]  # (N, T)
    return out * valid[:, None, :, None, None]


def ensure_synthetic(benchmark: str = "xsub", config: SyntheticConfig | None = None,
                     cache_dir=None) -> Path:
    """Directory holding the CMD-layout files of `benchmark` ('xsub' or 'xview'), generated
    (both benchmarks at once) if missing."""
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown synthetic benchmark {benchmark!r}; valid: {', '.join(BENCHMARKS)}")
    cfg = config or SyntheticConfig()
    base = cache_root(cache_dir) / f"synthetic-{cfg.digest()}"
    if is_complete(base / benchmark):
        return base / benchmark
    # the first run waits here: say what it waits for and where the result stays
    clips = cfg.num_classes * cfg.num_subjects * cfg.num_replications * cfg.num_cameras
    print(f"synthetic data: generating {clips} clips once, cached in {base}/ "
          "(SSLSKEL_CACHE moves the cache)", flush=True)
    data = generate(cfg)
    normalized = normalized_copy(data)
    for name in BENCHMARKS:
        if not is_complete(base / name):
            write_benchmark_atomically(base / name, data, normalized, name, cfg)
    return base / benchmark


# -- raw .skeleton files ------------------------------------------------------------------------
def write_raw_skeleton_files(out_dir, config: SyntheticConfig | None = None, limit: int = 12,
                             data: SkeletonData | None = None) -> list[Path]:
    """Write `limit` samples spread evenly over the dataset (so several subjects and actions)
    as NTU `.skeleton` text files in camera space; returns their paths. A body that is all
    zero in a frame (absent, or a whole-body dropout) is left out of that frame. `data`
    (e.g. from `generate`) avoids generating again."""
    data = data if data is not None else generate(config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    rows = np.unique(np.linspace(0, len(data) - 1, min(limit, len(data))).round().astype(int))
    for i in rows.tolist():
        x = data.sample(i)[:, : data.num_frames[i]]  # (3, T, 25, M)
        ids = [str(72057594037927936 + 1000 * i + m) for m in range(x.shape[3])]
        frames = [[(ids[m], x[:, f, :, m].T) for m in range(x.shape[3]) if np.any(x[:, f, :, m])]
                  for f in range(x.shape[1])]
        path = out / f"{data.names[i]}.skeleton"
        write_ntu_skeleton(path, frames)
        paths.append(path)
    return paths
