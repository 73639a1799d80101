"""Make the CMD / HaLP layout from raw NTU `.skeleton` files (docs/methods.md, File formats).

    python -m sslskel.data.prepare ntu --raw nturgb+d_skeletons --out data/ntu60/xsub \\
        --benchmark xsub --dataset ntu60 --missing NTU_RGBD_samples_with_missing_skeletons.txt

reads every file of the official split (NTU60 keeps setups 1-17, NTU120 all 32), keeps two
bodies by energy, pre-normalises (`sslskel.data.agcn_preprocess`) and writes, per split,
`{split}_data_joint.npy` (N, 3, 300, 25, 2) float32, `{split}_num_frame.npy` (N,) int64 and
`{split}_label.pkl` = pickle of (names, labels) with python ints. Arrays are streamed into
a memory-mapped temp file chunk by chunk (the 7 GB NTU120 output never sits in RAM) and
renamed into place only once complete; on any error the temp files are removed.

`write_cmd_layout` writes the same layout from a `SkeletonData` or plain arrays.

Example:
    >>> import os, tempfile, numpy as np
    >>> out = tempfile.mkdtemp()
    >>> names = ["S001C001P001R001A001", "S001C002P001R001A002"]
    >>> write_cmd_layout(out, "val", np.ones((2, 3, 4, 25, 2), np.float32), num_frames=[4, 3],
    ...                  labels=[0, 1], names=names)
    >>> sorted(os.listdir(out))
    ['val_data_joint.npy', 'val_label.pkl', 'val_num_frame.npy']
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pickle
import sys
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .agcn_preprocess import pre_normalize
from .checks import warn_skipped_empty
from .container import SkeletonData, ntu_meta_from_names
from .errors import DataFormatError
from .files import temp_file_beside
from .ntu_raw import iter_samples, labels_from_names, list_skeleton_files
from .splits import SPLITS, ntu_split_mask

NTU60_MAX_SETUP = 17
WRITE_CHUNK = 64


@contextlib.contextmanager
def _atomic_paths(final_paths: Sequence[Path]) -> Iterator[list[Path]]:
    """Temp paths next to `final_paths` (mode as the umask says); renamed onto them on success,
    removed on error."""
    temps = []
    try:
        for final in final_paths:
            temps.append(temp_file_beside(final))
        yield temps
        for tmp, final in zip(temps, final_paths):
            os.replace(tmp, final)
    finally:
        for tmp in temps:
            if tmp.exists():
                tmp.unlink()


def _write_small_files(frames_tmp: Path, label_tmp: Path, num_frames, labels, names) -> None:
    with open(frames_tmp, "wb") as f:
        np.save(f, np.asarray(num_frames, dtype=np.int64))
    with open(label_tmp, "wb") as f:
        pickle.dump((list(map(str, names)), [int(v) for v in labels]), f)


def _cmd_paths(out_dir: Path, split: str) -> list[Path]:
    return [out_dir / f"{split}_data_joint.npy", out_dir / f"{split}_num_frame.npy",
            out_dir / f"{split}_label.pkl"]


def write_cmd_layout(out_dir, split: str, data, num_frames=None, labels=None, names=None,
                     chunk: int = WRITE_CHUNK) -> None:
    """Write `{split}_data_joint.npy` / `_num_frame.npy` / `_label.pkl` atomically.

    `data` is a `SkeletonData` (its rows, index included) or an (N, C, T, V, M) array with
    `num_frames`, `labels` and `names` given. The array is copied `chunk` samples at a time.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(data, SkeletonData):
        rows = np.arange(data.data.shape[0]) if data.index is None else np.asarray(data.index)
        array, num_frames, labels, names = data.data, data.num_frames, data.labels, data.names
    else:
        array = data
        rows = np.arange(len(array))
        if num_frames is None or labels is None or names is None:
            raise ValueError("with a plain array, num_frames, labels and names are required")
    if not (len(rows) == len(num_frames) == len(labels) == len(names)):
        raise ValueError(f"{len(rows)} samples but {len(num_frames)} num_frames, {len(labels)} labels, "
                         f"{len(names)} names")
    shape = (len(rows),) + tuple(array.shape[1:])
    with _atomic_paths(_cmd_paths(out_dir, split)) as (data_tmp, frames_tmp, label_tmp):
        out = np.lib.format.open_memmap(data_tmp, mode="w+", dtype=np.float32, shape=shape)
        for start in range(0, len(rows), chunk):
            out[start:start + chunk] = array[rows[start:start + chunk]]
        out.flush()
        del out
        _write_small_files(frames_tmp, label_tmp, num_frames, labels, names)


def prepare_ntu(raw_dir, out_dir, benchmark: str, dataset: str = "ntu60", missing_file=None,
                max_frames: int = 300, chunk: int = WRITE_CHUNK, progress: bool = False) -> dict[str, int]:
    """Raw NTU -> CMD / HaLP layout for both splits of `benchmark`; returns samples per split."""
    if dataset not in ("ntu60", "ntu120"):
        raise ValueError(f"unknown dataset {dataset!r}; valid: ntu60, ntu120")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = list_skeleton_files(raw_dir, missing_file)
    names = [p.stem for p in files]
    labels = labels_from_names(names, raw_dir)
    meta = ntu_meta_from_names(names)
    in_dataset = meta["setup"] <= NTU60_MAX_SETUP if dataset == "ntu60" else np.ones(len(names), bool)
    counts = {}
    for split in SPLITS:
        chosen = np.flatnonzero(in_dataset & ntu_split_mask(meta, benchmark, split, source=raw_dir))
        if not len(chosen):
            raise DataFormatError(raw_dir, f"{benchmark} {split} split of {dataset}", "at least one sample", "0")
        counts[split] = _write_ntu_split(out_dir, split, [files[i] for i in chosen], labels[chosen], max_frames,
                                         chunk, progress)
    return counts


def _write_ntu_split(out_dir: Path, split: str, files: list[Path], labels: np.ndarray, max_frames: int,
                     chunk: int, progress: bool) -> int:
    """Stream the samples of `files` into the CMD files of `split`; files with no body in any
    frame are skipped with a warning naming them. Returns the number of samples written."""
    shape = (len(files), 3, max_frames, 25, 2)
    num_frames = np.zeros(len(files), np.int64)
    kept, skipped = [], []
    samples = zip(range(len(files)), iter_samples(files, max_frames=max_frames))
    with _atomic_paths(_cmd_paths(out_dir, split)) as (data_tmp, frames_tmp, label_tmp):
        out = np.lib.format.open_memmap(data_tmp, mode="w+", dtype=np.float32, shape=shape)
        while len(kept) + len(skipped) < len(files):
            start = len(kept)
            block = np.zeros((min(chunk, len(files) - start),) + shape[1:], np.float32)
            for k, sample in samples:
                if not sample.any():  # no body in any frame: skipped, as the readers do
                    skipped.append(k)
                    continue
                block[len(kept) - start, :, :sample.shape[1]] = sample
                num_frames[len(kept)] = sample.shape[1]
                kept.append(k)
                if len(kept) - start == len(block):
                    break
            n = len(kept) - start
            out[start:start + n] = pre_normalize(block[:n], num_frames[start:start + n])
            if progress:
                print(f"{split}: {len(kept) + len(skipped)}/{len(files)}", file=sys.stderr, flush=True)
        out.flush()
        del out
        warn_skipped_empty(files[0].parent, [files[k].name for k in skipped], stacklevel=3)
        if not kept:
            raise DataFormatError(files[0].parent, f"{split} split", "at least one file with a body in a frame",
                                  f"none of its {len(files)} files")
        if skipped:
            _shrink_npy(data_tmp, len(kept), chunk)
        _write_small_files(frames_tmp, label_tmp, num_frames[:len(kept)], labels[kept],
                           [files[k].stem for k in kept])
    return len(kept)


def _shrink_npy(path: Path, rows: int, chunk: int) -> None:
    """Keep the first `rows` rows of the `.npy` at `path` (copied chunk by chunk, then renamed)."""
    source = np.load(path, mmap_mode="r")
    tmp = temp_file_beside(path)
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=source.dtype, shape=(rows,) + source.shape[1:])
        for start in range(0, rows, chunk):
            out[start:start + chunk] = source[start:min(start + chunk, rows)]
        out.flush()
        del out, source
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sslskel.data.prepare", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ntu = sub.add_parser("ntu", help="raw NTU .skeleton files -> CMD / HaLP layout")
    ntu.add_argument("--raw", required=True, help="directory of .skeleton files")
    ntu.add_argument("--out", required=True, help="output directory")
    ntu.add_argument("--benchmark", required=True, choices=("xsub", "xview", "xset"))
    ntu.add_argument("--dataset", default="ntu60", choices=("ntu60", "ntu120"))
    ntu.add_argument("--missing", default=None, help="official list of samples with missing skeletons")
    ntu.add_argument("--max-frames", type=int, default=300)
    args = parser.parse_args(argv)
    counts = prepare_ntu(args.raw, args.out, args.benchmark, args.dataset, args.missing, args.max_frames,
                         progress=True)
    print(" ".join(f"{split}={n}" for split, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
