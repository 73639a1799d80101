"""Readers for every file format of docs/methods.md (File formats), and one entry point `load_split`.

Each reader returns a `SkeletonData` for one split ('train' or 'val'; 'test' is an alias
of 'val'). Big arrays (CMD / HaLP, ST-GCN, AimCLR `.npy`, uncompressed CTR-GCN `.npz`)
are memory-mapped: nothing beyond the headers is read until a sample is asked for.

File formats (`file_format=` names for `load_split`, `data.format` in configs; detected
from what is at `path` when None):
- "cmd":    dir with `{split}_data_joint.npy`, `{split}_num_frame.npy`, `{split}_label.pkl`
- "stgcn":  dir with `{split}_data.npy`, `{split}_label.pkl` (valid length = last non-zero frame)
- "aimclr": dir with `{split}_position.npy` (N, 3, 50, 25, 2), `{split}_label.pkl`
- "ctrgcn": `.npz` with x_train (N, T, 150), one-hot y_train, x_test, y_test
- "pyskl":  `*_3danno.pkl` with split lists and annotations; `benchmark` picks xsub/xview/xset
- "ucla":   dir of `aAA_sSS_eEE_vVV.json` (NW-UCLA, layout ucla20, one person)
- "pku":    dir with `skeleton/*.txt`, `label/*.txt` and a split file (PKU-MMD)
- "ntu_raw": dir of raw `.skeleton` files (official split chosen by `benchmark`)
- "msr":    dir of MSR Action3D `aAA_sSS_eEE_skeleton3D.txt` (layout msr20; `sslskel.data.kinect_v1`)
- "utd":    dir of UTD-MHAD `aA_sS_tT_skeleton.mat` (layout utd20; `sslskel.data.kinect_v1`)
A directory holding a sub-directory named like `benchmark` (e.g. `ntu60/xsub/`) is entered.

The readers live by format family: `array_formats` (cmd, stgcn, aimclr, ctrgcn), `pyskl`,
`ucla`, `pku`, `ntu_raw` (`read_ntu_split` here picks the official split) and
`kinect_v1`; the checks they share live in `checks` and are re-exported here.

PySKL, NW-UCLA, PKU-MMD and raw NTU are read into memory (a PySKL NTU120 split is
several GB): convert big ones once with `sslskel.data.prepare.write_cmd_layout` (or
`python -m sslskel.data.prepare ntu` for raw NTU) and read the memory-mapped result.
Passes over a whole memory map (valid lengths, `check_finite`) go chunk by chunk and
drop the pages they touched, so they do not grow the process's resident memory.

Choices where the formats leave room: PKU-MMD label intervals `start,end` are read as
0-based inclusive frame indices and cut to at most `max_frames` (300) frames; samples of
PKU-MMD and NW-UCLA are zero-padded to the longest sample of the split. ST-GCN / AimCLR /
CTR-GCN samples with no non-zero frame get num_frames = 1 (with a warning) so they stay
addressable.

Example:
    >>> import os, pickle, tempfile, numpy as np
    >>> d = tempfile.mkdtemp()
    >>> np.save(os.path.join(d, "val_data_joint.npy"), np.ones((2, 3, 20, 25, 2), np.float32))
    >>> np.save(os.path.join(d, "val_num_frame.npy"), np.array([20, 7]))
    >>> with open(os.path.join(d, "val_label.pkl"), "wb") as f:
    ...     pickle.dump((["S001C001P001R001A001", "S001C001P002R001A002"], [0, 1]), f)
    >>> data = load_split(d, "test")
    >>> type(data.data).__name__, data.num_frames.tolist(), data.meta["subject"].tolist()
    ('memmap', [20, 7], [1, 2])
"""

from __future__ import annotations

import contextlib
import errno
from dataclasses import replace
from pathlib import Path

from .array_formats import read_aimclr, read_cmd, read_ctrgcn, read_stgcn
from .checks import (
    check_count,
    check_data_array,
    check_finite,
    check_labels,
    check_names,
    describe_folder,
    finish_split,
    last_nonzero_frames,
    load_label_pickle,
    load_npy,
)
from .container import SkeletonData, ntu_meta_from_names
from .errors import DataFormatError
from .kinect_v1 import KINECT_V1_BENCHMARKS, is_msr_dir, is_utd_dir, read_msr, read_utd
from .ntu_raw import list_skeleton_files, read_ntu_raw
from .pku import PKU_SPLIT_FILES, read_pku
from .pyskl import read_pyskl
from .splits import NTU_BENCHMARKS, SPLITS, check_ntu_benchmark, normalize_split, ntu_split_mask
from .ucla import is_ucla_dir, read_ucla

# the shared checks are part of this entry point (they live in .checks)
__all__ = ["FILE_FORMATS", "FORMATS_WITH_LAYOUT", "READERS", "check_count", "check_data_array",
           "check_finite", "check_labels", "check_names", "detect_format", "finish_split",
           "last_nonzero_frames", "load_label_pickle", "load_npy", "load_split", "read_ntu_split"]

NTU_MISSING_LISTS = ("NTU_RGBD_samples_with_missing_skeletons.txt",
                     "NTU_RGBD120_samples_with_missing_skeletons.txt")


# -- raw NTU ---------------------------------------------------------------------------------
def read_ntu_split(directory, split: str, benchmark: str, missing_file=None, **kw) -> SkeletonData:
    """Raw `.skeleton` directory -> the official `benchmark` split, read into memory."""
    split = normalize_split(split)
    check_ntu_benchmark(benchmark)
    directory = Path(directory)
    if missing_file is None:
        missing_file = next((p for name in NTU_MISSING_LISTS for p in (directory / name, directory.parent / name)
                             if p.exists()), None)
    files = list_skeleton_files(directory, missing_file)
    names = [p.stem for p in files]
    mask = ntu_split_mask(ntu_meta_from_names(names), benchmark, split, source=directory)
    chosen = [n for n, keep in zip(names, mask) if keep]
    if not chosen:
        raise DataFormatError(directory, f"split {split!r}", "at least one sample", "0")
    return read_ntu_raw(directory, names=chosen, **kw)


# -- entry point ------------------------------------------------------------------------------
def _read_ntu_raw(path, split, benchmark, mmap, missing_file) -> SkeletonData:
    if benchmark is None:
        raise ValueError("raw NTU .skeleton files need benchmark= one of xsub, xview, xset")
    return read_ntu_split(path, split, benchmark, missing_file)


# data.format -> reader(path, split, benchmark, mmap, missing_file); `benchmark` None = the default
READERS = {
    "cmd": lambda path, split, benchmark, mmap, _: read_cmd(path, split, mmap),
    "stgcn": lambda path, split, benchmark, mmap, _: read_stgcn(path, split, mmap),
    "aimclr": lambda path, split, benchmark, mmap, _: read_aimclr(path, split, mmap),
    "ctrgcn": lambda path, split, benchmark, mmap, _: read_ctrgcn(path, split, mmap),
    "pyskl": lambda path, split, benchmark, mmap, _: read_pyskl(path, split, benchmark or "xsub"),
    "ucla": lambda path, split, benchmark, mmap, _: read_ucla(path, split),
    "pku": lambda path, split, benchmark, mmap, _: read_pku(path, split, benchmark or "xsub"),
    "ntu_raw": _read_ntu_raw,
    "msr": lambda path, split, benchmark, mmap, _: read_msr(path, split, benchmark or "xsub"),
    "utd": lambda path, split, benchmark, mmap, _: read_utd(path, split, benchmark or "xsub"),
}
FILE_FORMATS = tuple(READERS)

# data.format -> the data.benchmark values its reader accepts. The readers keep these in
# different places, so the table is assembled here (the config checks data.benchmark against it):
# - cmd, stgcn, aimclr, ctrgcn: the benchmark only names a sub-folder to enter
#   (load_split); the folders hold converted NTU / PKU-MMD / NW-UCLA / Kinect v1 data
# - pyskl: the `{benchmark}_{split}` lists of the file (pyskl.read_pyskl): NTU's benchmarks
# - ntu_raw: splits.check_ntu_benchmark (NTU_BENCHMARKS)
# - pku: pku._find_pku_split_file (PKU_SPLIT_FILES)
# - ucla: ucla.read_ucla ignores it and always splits by view (1 and 2 train, 3 tests): xview
# - msr, utd: kinect_v1.odd_subject_mask (KINECT_V1_BENCHMARKS)
# - no data.path (the synthetic set): synthetic.ensure_synthetic (its BENCHMARKS)
_NTU_STYLE = tuple(NTU_BENCHMARKS)
BENCHMARKS_BY_FORMAT = {
    "cmd": _NTU_STYLE, "stgcn": _NTU_STYLE, "aimclr": _NTU_STYLE, "ctrgcn": _NTU_STYLE,
    "pyskl": _NTU_STYLE, "ntu_raw": _NTU_STYLE, "pku": tuple(PKU_SPLIT_FILES), "ucla": ("xview",),
    "msr": tuple(KINECT_V1_BENCHMARKS), "utd": tuple(KINECT_V1_BENCHMARKS),
}
# (format, file name after `{split}`) of the formats detected by their data array
ARRAY_DATA_FILES = (("cmd", "_data_joint.npy"), ("aimclr", "_position.npy"), ("stgcn", "_data.npy"))
# formats whose files say which joint order they use; the others only give a joint count
FORMATS_WITH_LAYOUT = ("ucla", "pku", "ntu_raw", "msr", "utd")


def detect_format(path, split: str) -> str:
    """Name of the file format at `path` (see the module docstring)."""
    path = Path(path)
    split = normalize_split(split)
    if path.is_file():
        if path.suffix == ".npz":
            return "ctrgcn"
        if path.suffix == ".pkl":
            return "pyskl"
        raise DataFormatError(path, "file type", "a CTR-GCN .npz or a PySKL *_3danno.pkl", f"suffix {path.suffix!r}")
    if not path.is_dir():
        raise DataFormatError(path, "path", "an existing file or directory", "not found")
    for file_format, suffix in ARRAY_DATA_FILES:
        if (path / f"{split}{suffix}").exists():
            return file_format
    _refuse_missing_split(path, split)
    if (path / "skeleton").is_dir() and (path / "label").is_dir():
        return "pku"
    if next(path.glob("*.skeleton"), None) is not None:
        return "ntu_raw"
    if is_ucla_dir(path):
        return "ucla"
    if is_msr_dir(path):
        return "msr"
    if is_utd_dir(path):
        return "utd"
    raise DataFormatError(path, "file format", f"one of {', '.join(FILE_FORMATS)} (see sslskel.data.readers)",
                          describe_folder(path))


def _refuse_missing_split(path: Path, split: str) -> None:
    """A folder with the other split's array file but not this split's: name the missing file."""
    for file_format, suffix in ARRAY_DATA_FILES:
        for other in SPLITS:
            if other != split and (path / f"{other}{suffix}").exists():
                raise DataFormatError(path / f"{split}{suffix}", "file",
                                      f"the {split} split of the {file_format} files beside {other}{suffix}",
                                      f"not found; {describe_folder(path)}")


def load_split(path, split: str, *, benchmark: str | None = None, file_format: str | None = None,
               mmap: bool = True, missing_file=None) -> SkeletonData:
    """Read the train or val ('test' = 'val') split of whatever file format is at `path`."""
    path = Path(path)
    split = normalize_split(split)
    try:
        with contextlib.suppress(FileNotFoundError):  # detect_format says "not found"
            path.stat()  # a loop of symbolic links reads as "not found" to is_dir / exists
        if benchmark is not None and path.is_dir() and (path / benchmark).is_dir():
            path = path / benchmark
        if file_format is None:
            file_format = detect_format(path, split)
            data = _read(path, split, benchmark, file_format, mmap, missing_file)
        else:
            data = _read_as_told(path, split, benchmark, file_format, mmap, missing_file)
    except OSError as err:
        if err.errno != errno.ELOOP:
            raise
        raise DataFormatError(err.filename or path, "path", "a file or folder (symbolic links that resolve)",
                              "a loop of symbolic links") from None
    return replace(data, file_format=file_format, index=data.index)


def _read_as_told(path: Path, split: str, benchmark, file_format: str, mmap: bool, missing_file) -> SkeletonData:
    """`data.format` given: a reader that finds nothing it can read also says which format the
    files look like, when that is another one (data.format=ucla on CMD files, say)."""
    try:
        return _read(path, split, benchmark, file_format, mmap, missing_file)
    except DataFormatError as err:
        try:
            detected = detect_format(path, split)
        except DataFormatError:
            raise err from None
        if detected == file_format:
            raise
        raise DataFormatError(err.where, err.field, err.expected,
                              f"{err.got}; the files at {path} look like data.format={detected}") from None


def _read(path: Path, split: str, benchmark, file_format: str, mmap: bool, missing_file) -> SkeletonData:
    reader = READERS.get(file_format)
    if reader is None:
        raise ValueError(f"data.format: unknown file format {file_format!r}; valid: {', '.join(FILE_FORMATS)}")
    return reader(path, split, benchmark, mmap, missing_file)
