"""Checks shared by the file-format readers (leaf module: the readers import it, it imports no reader).

Every check raises `DataFormatError` naming the file, the field, what was expected and what
was found. `finish_split` wraps a reader's arrays in a `SkeletonData` and refuses an empty
split. Passes over a whole memory map (`last_nonzero_frames`, `check_finite`) go chunk by
chunk and drop the pages they touched, so they do not grow the process's resident memory.

Example:
    >>> import numpy as np
    >>> data = np.zeros((2, 3, 10, 25, 1), np.float32)
    >>> data[0, :, :4] = 1.0
    >>> check_data_array(data, "x.npy"), last_nonzero_frames(data[:1]).tolist()
    ('ntu25', [4])
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from .container import SkeletonData, ntu_meta_from_names, release_mapped_pages
from .errors import DataFormatError
from .safe_pickle import load_pickle

LAYOUT_FOR_JOINTS = {25: "ntu25", 20: "ucla20"}
NUM_FRAMES_CHUNK = 256


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
    if len(labels) and labels.min() < 0:
        raise DataFormatError(path, f"labels[{int(np.argmin(labels))}]", "a 0-based class id >= 0",
                              str(int(labels.min())))
    return names, labels


def load_npy(path, mmap: bool) -> np.ndarray:
    if not os.path.exists(path):
        raise DataFormatError(path, "file", "an existing .npy file", "not found")
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise DataFormatError(path, "npy", "a readable .npy array file", f"{type(err).__name__}: {err}") from None


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


def check_finite(data: SkeletonData, chunk: int = NUM_FRAMES_CHUNK) -> None:
    """Scan every sample `chunk` at a time; DataFormatError naming the first NaN / inf sample."""
    rows = np.arange(data.data.shape[0]) if data.index is None else np.asarray(data.index)
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        contiguous = len(part) and part[-1] - part[0] + 1 == len(part) and np.all(np.diff(part) == 1)
        block = np.asarray(data.data[part[0]:part[-1] + 1] if contiguous else data.data[part])
        finite = np.isfinite(block).reshape(len(part), -1).all(1)
        release_mapped_pages(data.data)
        if not finite.all():
            i = start + int(np.argmin(finite))
            x = block[i - start]
            where = tuple(int(b) for b in np.argwhere(~np.isfinite(x))[0])
            raise DataFormatError(data.source, f"sample {int(rows[i])} ({data.names[i]})", "finite coordinates",
                                  f"{x[where]} at (C, T, V, M) = {where}")


def finish_split(data, num_frames, labels, names, source, layout, meta=None, split="") -> SkeletonData:
    """A reader's arrays -> `SkeletonData` (NTU meta from the names unless `meta`); empty split refused."""
    meta = ntu_meta_from_names(names) if meta is None else meta
    out = SkeletonData(data, num_frames, labels, names, meta=meta, layout=layout, source=str(source))
    return out.require_nonempty(split)


def read_number_rows(path, width: int, what: str) -> np.ndarray:
    """A text file of `width` whitespace-separated numbers per non-blank line -> (lines, width)
    float32; DataFormatError naming the line otherwise. `what` says what a line holds."""
    rows = []
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                values = np.array(line.split(), dtype=np.float64)  # then float32, as float() would
            except ValueError:
                raise DataFormatError(path, f"line {line_no}", f"{width} numbers ({what})",
                                      f"a non-numeric token in {line.strip()[:60]!r}") from None
            if values.size != width:
                raise DataFormatError(path, f"line {line_no}", f"{width} numbers ({what})", f"{values.size}")
            rows.append(values)
    return np.stack(rows).astype(np.float32) if rows else np.zeros((0, width), np.float32)
