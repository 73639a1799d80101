"""Checks shared by the file-format readers (leaf module: the readers import it, it imports no reader).

Every check raises `DataFormatError` naming the file, the field, what was expected and what
was found. `finish_split` wraps a reader's arrays in a `SkeletonData` and refuses an empty
split. Passes over a whole memory map (`last_nonzero_frames`, `check_finite`, `scan_samples`)
go chunk by chunk and drop the pages they touched, so they do not grow the process's
resident memory.

Class ids (`check_class_ids`): where the dataset's class count is known (NTU 120 actions,
PKU-MMD 51, NW-UCLA 10, MSR Action3D 20, UTD-MHAD 27, the synthetic set) ids must lie in
[0, count). Array files (CMD, ST-GCN, AimCLR, CTR-GCN, PySKL) do not say how many classes
there are, so their ids must be plausible: below `max(GENERIC_CLASS_LIMIT, DENSITY x the
number of distinct ids)`, i.e. below 1000 (Kinetics-skeleton, the largest common skeleton
set, has 400) unless the ids are dense. An id of 10**9 among 60 classes, which would make
the kNN allocate 298 GiB, is refused at load; every real dataset (ids 0..K-1) passes.

Example:
    >>> import numpy as np
    >>> data = np.zeros((2, 3, 10, 25, 1), np.float32)
    >>> data[0, :, :4] = 1.0
    >>> check_data_array(data, "x.npy"), last_nonzero_frames(data[:1]).tolist()
    ('ntu25', [4])
"""

from __future__ import annotations

import array
import itertools
import os
import warnings
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import UserError
from .container import SkeletonData, ntu_meta_from_names, release_mapped_pages
from .errors import DataFormatError
from .limits import read_bounded_line, require_memory
from .safe_pickle import load_pickle

LAYOUT_FOR_JOINTS = {25: "ntu25", 20: "ucla20"}
NUM_FRAMES_CHUNK = 256
# class ids of files that do not say their class count: below max(limit, density x distinct ids)
GENERIC_CLASS_LIMIT = 1000
CLASS_ID_DENSITY = 4
# a pass over more bytes than this shows a progress bar (it takes seconds)
PROGRESS_BYTES = 256 * 2**20
# sample names listed in the all-zero warning
NAMES_SHOWN = 5


def check_data_array(data: np.ndarray, path, channels=(2, 3)) -> str:
    """(N, C, T, V, M) with C in `channels`, V 25 or 20; returns the skeleton layout name."""
    if data.ndim != 5:
        raise DataFormatError(path, "data", "a 5-D array (N, C, T, V, M)", f"shape {tuple(data.shape)}")
    n, c, t, v, m = data.shape
    if c not in channels:
        raise DataFormatError(path, "data", f"C (axis 1) in {channels}", f"shape {tuple(data.shape)}")
    if v not in LAYOUT_FOR_JOINTS:
        raise DataFormatError(path, "data", f"V (axis 3) of {sorted(LAYOUT_FOR_JOINTS)} joints",
                              f"shape {tuple(data.shape)}")
    if t < 1 or m < 1:
        raise DataFormatError(path, "data", "T >= 1 and M >= 1", f"shape {tuple(data.shape)}")
    if not np.issubdtype(data.dtype, np.floating):
        raise DataFormatError(path, "data", "a floating-point array", str(data.dtype))
    return LAYOUT_FOR_JOINTS[v]


def check_labels(labels, path, field="labels") -> np.ndarray:
    """Integer class ids (python or numpy ints, 1-D) -> int64 array."""
    if isinstance(labels, np.ndarray):
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise DataFormatError(path, field, "a 1-D sequence of integer class ids",
                                  f"array of dtype {labels.dtype} and shape {labels.shape}")
        return labels.astype(np.int64)
    labels = list(labels)
    for i, value in enumerate(labels):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise DataFormatError(path, f"{field}[{i}]", "an integer class id",
                                  f"{type(value).__name__} {value!r}")
        if not -2**63 <= int(value) < 2**63:  # would not fit the int64 array (an OverflowError)
            raise DataFormatError(path, f"{field}[{i}]", "a 0-based class id", str(value))
    return np.asarray(labels, dtype=np.int64)


def check_names(names, path, field="sample names") -> list[str]:
    names = list(names)
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise DataFormatError(path, f"{field}[{i}]", "a str sample name", f"{type(name).__name__} {name!r}")
    return names


def check_count(values, n: int, path, field: str, data_path) -> None:
    if len(values) != n:
        raise DataFormatError(path, field, f"{n} entries to match the data ({Path(data_path).name}: N={n})",
                              f"{len(values)}")


def load_label_pickle(path) -> tuple[list[str], np.ndarray]:
    """`{split}_label.pkl` = (sample_names, labels) -> checked names and int64 labels."""
    if not os.path.exists(path):
        raise DataFormatError(path, "file", "a label pickle (sample_names, labels) next to the data", "not found")
    content = load_pickle(path)
    if not isinstance(content, (tuple, list)) or len(content) != 2:
        raise DataFormatError(path, "pickle content", "a pair (sample_names, labels)",
                              f"{type(content).__name__}" + (f" of length {len(content)}"
                                                             if isinstance(content, (tuple, list)) else ""))
    names, labels = content
    names = check_names(names, path)
    labels = check_labels(labels, path)
    check_count(labels, len(names), path, "labels", f"{path} sample names")
    check_class_ids(labels, path, names=names)
    return names, labels


def class_id_bound(labels: np.ndarray) -> int:
    """Exclusive bound on the class ids of a file that does not give its class count."""
    return max(GENERIC_CLASS_LIMIT, CLASS_ID_DENSITY * len(np.unique(labels)))


def check_class_ids(labels: np.ndarray, path, field: str = "labels", num_classes: int | None = None,
                    dataset: str = "", names=None) -> None:
    """Every id in [0, num_classes), or (`num_classes` None) below `class_id_bound`; the error
    names the file, the sample index (and name) and the value."""
    labels = np.asarray(labels)
    if not len(labels):
        return
    if num_classes is not None:
        bound, why = num_classes, f"{dataset or 'this dataset'} has {num_classes} classes"
    else:
        bound = class_id_bound(labels)
        why = (f"the file gives no class count, so ids must be below {GENERIC_CLASS_LIMIT} or "
               f"{CLASS_ID_DENSITY} x the {len(np.unique(labels))} distinct ids")
    bad = np.flatnonzero((labels < 0) | (labels >= bound))
    if len(bad):
        i = int(bad[0])
        sample = f" ({names[i]})" if names is not None else ""
        raise DataFormatError(path, f"{field}[{i}]{sample}", f"a 0-based class id in [0, {bound}) ({why})",
                              f"{int(labels[i])}" + (f" ({len(bad)} such ids)" if len(bad) > 1 else ""))


def check_held_out_classes(classes, num_classes: int, labels, where: str, left_for: str,
                           source: str = "") -> list[int]:
    """The sorted unique ids of classes to hold out (pretraining's data.exclude_classes, the
    uncertainty protocol's --ood-classes); UserError naming `where` unless each is in
    [0, num_classes) and samples of two other classes are left (`left_for`: what for; one
    class left has nothing to tell apart)."""
    classes = sorted({int(c) for c in classes})
    bad = [c for c in classes if not 0 <= c < num_classes]
    if bad:
        raise UserError(where, "class ids", f"0-based ids in [0, {num_classes - 1}]", str(bad))
    labels = np.asarray(labels)
    left = np.unique(labels[~np.isin(labels, classes)])
    if len(left) < 2:
        what = f"only class {int(left[0])}" if len(left) else "no class"
        raise UserError(where, "class ids", f"some class left {left_for} (at least two classes)",
                        f"{classes}, leaving {what}" + (f" of {source}" if source else ""))
    return classes


def check_training_clips(data: SkeletonData, batch_size: int, field: str = "optim.batch_size") -> None:
    """Enough training clips for one whole batch (the loader drops a partial one) and for a
    contrast between clips: at least max(2, `batch_size`); UserError naming the data otherwise."""
    needed = max(2, batch_size)
    if len(data) < needed:
        raise UserError(data.source, "training clips", f"at least {needed} (one batch of {field}={batch_size}"
                        f"{'' if batch_size >= 2 else ', and two clips to contrast'})", str(len(data)))


def check_num_frames(num_frames: np.ndarray, frames: int, path, field: str = "num_frame") -> np.ndarray:
    """1-D whole numbers in [1, `frames`] -> int64; the error names the file, the sample index
    and the value (a NaN is shown as nan, not as the integer it would be cast to)."""
    num_frames = np.asarray(num_frames)
    if num_frames.ndim != 1 or not (np.issubdtype(num_frames.dtype, np.integer)
                                    or np.issubdtype(num_frames.dtype, np.floating)):
        raise DataFormatError(path, field, "a 1-D array of integer frame counts",
                              f"{num_frames.dtype} of shape {num_frames.shape}")
    values = num_frames.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(values) | (values != np.round(values)) | (values < 1) | (values > frames))
    if len(bad):
        i = int(bad[0])
        value = num_frames[i].item()  # a python int or float: nan prints as nan
        raise DataFormatError(path, f"{field}[{i}]", f"a whole number of frames in [1, {frames}] (T of the data)",
                              f"{value!r}" + (f" ({len(bad)} such values)" if len(bad) > 1 else ""))
    return num_frames.astype(np.int64)


def load_npy(path, mmap: bool) -> np.ndarray:
    """A numeric `.npy` array (memory-mapped with `mmap`); DataFormatError for a missing,
    garbage (no .npy header), truncated or pickled-object file."""
    if not os.path.exists(path):
        raise DataFormatError(path, "file", "an existing .npy file", f"not found; {describe_folder(Path(path).parent)}")
    shape, dtype, offset = read_npy_header(path)
    if dtype.hasobject:
        raise DataFormatError(path, "npy", "a numeric .npy array", f"an array of Python objects (dtype {dtype})")
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    size = os.path.getsize(path)
    if size < expected:
        raise DataFormatError(path, "npy", f"{expected} bytes for the array of shape {shape} and dtype {dtype} "
                              "its header gives", f"{size} bytes (a truncated file?)")
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise DataFormatError(path, "npy", "a readable .npy array file", f"{type(err).__name__}: {err}") from None


def read_npy_header(path) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, data offset) of a `.npy` file; DataFormatError if it is not one."""
    with open(path, "rb") as f:
        magic = f.read(6)
        if magic != b"\x93NUMPY":
            raise DataFormatError(path, "npy", "a valid .npy array file (one written by numpy.save)",
                                  f"a file starting with {magic!r}, not the .npy magic b'\\x93NUMPY'")
        f.seek(0)
        try:
            version = np.lib.format.read_magic(f)
            read = {(1, 0): np.lib.format.read_array_header_1_0,
                    (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read is None:  # a newer .npy version: np.load will say whether it can read it
                return (0,), np.dtype(np.float32), 0
            shape, _, dtype = read(f)
        except Exception as err:  # numpy's header parser raises ValueError, SyntaxError, TokenError, ...
            raise DataFormatError(path, "npy", "a valid .npy array file (its header cannot be read)",
                                  f"{type(err).__name__}: {err}") from None
        return tuple(shape), dtype, f.tell()


def describe_folder(path, shown: int = 8) -> str:
    """'the folder holds [a, b, ...] (N entries)', for messages about files that are not there."""
    path = Path(path)
    if not path.is_dir():
        return f"{path} is not a folder"
    entries = sorted(p.name for p in path.iterdir())
    more = f", ... ({len(entries)} entries)" if len(entries) > shown else ""
    return f"the folder holds [{', '.join(entries[:shown])}{more}]" if entries else "the folder is empty"


def last_nonzero_frames(data: np.ndarray, chunk: int = NUM_FRAMES_CHUNK, source="") -> np.ndarray:
    """(N, C, T, V, M) -> (N,) 1 + index of the last frame with any non-zero value.

    Reads the array `chunk` samples at a time so a memory map is never loaded whole.
    Samples with no non-zero value get 1 (and a warning).
    """
    n, t = data.shape[0], data.shape[2]
    out = np.zeros(n, np.int64)
    for start in range(0, n, chunk):
        block = np.asarray(data[start:start + chunk])
        active = (block != 0).any(axis=(1, 3, 4))  # (n, T)
        out[start:start + len(block)] = np.where(active.any(1), t - np.argmax(active[:, ::-1], 1), 0)
        release_mapped_pages(data)
    empty = np.flatnonzero(out == 0)
    if len(empty):
        warnings.warn(f"{source}: {len(empty)} samples have no non-zero frame (first: {int(empty[0])}); "
                      "giving them num_frames = 1", stacklevel=2)
        out[empty] = 1
    return out


def check_finite(data: SkeletonData, chunk: int = NUM_FRAMES_CHUNK) -> np.ndarray:
    """Scan every sample `chunk` at a time; DataFormatError naming the first NaN / inf sample.
    Returns the positions of the samples whose every value is zero (`scan_samples` warns)."""
    rows = np.arange(data.data.shape[0]) if data.index is None else np.asarray(data.index)
    starts = range(0, len(rows), chunk)
    nbytes = len(rows) * int(np.prod(data.data.shape[1:])) * data.data.dtype.itemsize
    if nbytes > PROGRESS_BYTES:  # seconds to minutes on a 7 GB file: show that it is working
        starts = tqdm(starts, desc=f"checking {Path(data.source).name}", unit="chunk", leave=False,
                      dynamic_ncols=True)
    zero = []
    for start in starts:
        part = rows[start:start + chunk]
        contiguous = part[-1] - part[0] + 1 == len(part) and np.all(np.diff(part) == 1)
        block = np.asarray(data.data[part[0]:part[-1] + 1] if contiguous else data.data[part])
        flat = block.reshape(len(part), -1)
        finite = np.isfinite(flat).all(1)
        zero.append(start + np.flatnonzero(~flat.any(1)))
        release_mapped_pages(data.data)
        if not finite.all():
            i = start + int(np.argmin(finite))
            x = block[i - start]
            where = tuple(int(b) for b in np.argwhere(~np.isfinite(x))[0])
            raise DataFormatError(data.source, f"sample {int(rows[i])} ({data.names[i]})", "finite coordinates",
                                  f"{x[where]} at (C, T, V, M) = {where}")
    return np.concatenate(zero) if zero else np.zeros(0, np.int64)


def warn_all_zero(data: SkeletonData, positions: np.ndarray, split: str = "") -> None:
    """One warning naming the first few all-zero samples and their count."""
    if not len(positions):
        return
    shown = ", ".join(data.names[int(i)] for i in positions[:NAMES_SHOWN])
    more = ", ..." if len(positions) > NAMES_SHOWN else ""
    warnings.warn(f"{data.source}: {len(positions)} of {len(data)} samples{f' of the {split} split' if split else ''} "
                  f"are all zero (no skeleton): {shown}{more}; they train as a skeleton at the origin",
                  stacklevel=3)


def warn_skipped_empty(source, names: list[str], stacklevel: int = 3) -> None:
    """The readers that drop empty sequences (MSR, UTD, raw NTU) say which ones they dropped."""
    if names:
        warnings.warn(f"{source}: skipped {len(names)} sequence(s) with no non-zero frame: "
                      f"{', '.join(names)}", stacklevel=stacklevel + 1)


def scan_samples(data: SkeletonData, split: str = "") -> None:
    """Before the first step: every coordinate finite (DataFormatError naming the file, sample
    index and name, and the position), all-zero samples counted and warned about by name.
    A memory-mapped file already scanned, unchanged, in this process is not read again."""
    key = _mapped_file_key(data)
    if key is not None and key in _SCANNED:
        return
    warn_all_zero(data, check_finite(data), split)
    if key is not None:
        _SCANNED.add(key)


_SCANNED: set[tuple] = set()


def _mapped_file_key(data: SkeletonData) -> tuple | None:
    """(file, inode, size, mtime, rows) of a memory-mapped split; None for in-memory data."""
    filename = getattr(data.data, "filename", None)
    if not isinstance(data.data, np.memmap) or not filename or data.index is not None:
        return None
    try:
        st = os.stat(filename)
    except OSError:
        return None
    return (str(filename), st.st_ino, st.st_size, st.st_mtime_ns, data.data.shape, data.data.strides)


def finish_split(data, num_frames, labels, names, source, layout, meta=None, split="") -> SkeletonData:
    """A reader's arrays -> `SkeletonData` (NTU meta from the names unless `meta`); empty split refused."""
    meta = ntu_meta_from_names(names) if meta is None else meta
    out = SkeletonData(data, num_frames, labels, names, meta=meta, layout=layout, source=str(source))
    return out.require_nonempty(split)


def read_number_rows(path, width: int, what: str) -> np.ndarray:
    """A text file of `width` whitespace-separated numbers per non-blank line -> (lines, width)
    float32; DataFormatError naming the line otherwise. `what` says what a line holds.
    Lines are read at most `MAX_LINE_BYTES` far, and the rows must fit in memory."""
    # a number takes >= 2 bytes of text ("0 ") and 4 of float32, plus the final array
    require_memory(4 * os.path.getsize(path), path, "file", f"the numbers of this {what} file")
    values = array.array("f")  # float(token) rounded to float32, as the float64 -> float32 cast
    with open(path, "rb") as f:
        for line_no in itertools.count(1):
            raw = read_bounded_line(f, path, line_no)
            if not raw:
                break
            line = raw.decode("utf-8", errors="replace")
            tokens = line.split()
            if not tokens:
                continue
            try:
                row = [float(token) for token in tokens]
            except ValueError:
                raise DataFormatError(path, f"line {line_no}", f"{width} numbers ({what})",
                                      f"a non-numeric token in {line.strip()[:60]!r}") from None
            if len(row) != width:
                raise DataFormatError(path, f"line {line_no}", f"{width} numbers ({what})", f"{len(row)}")
            values.extend(row)
    return np.frombuffer(values, np.float32).reshape(-1, width).copy()
