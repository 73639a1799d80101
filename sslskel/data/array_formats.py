"""Readers of the array file formats: CMD / HaLP, ST-GCN and AimCLR `.npy`, CTR-GCN `.npz`.

All four are memory-mapped (`mmap=True`): nothing beyond the headers is read until a sample
is asked for; an `.npz` member stored compressed is loaded into memory with a warning.
ST-GCN / AimCLR / CTR-GCN give no lengths: a sample's valid length is its last non-zero
frame (`last_nonzero_frames`). Use them through `sslskel.data.readers.load_split`.

Example:
    >>> import os, pickle, tempfile, numpy as np
    >>> d = tempfile.mkdtemp()
    >>> np.save(os.path.join(d, "train_data.npy"), np.ones((2, 3, 8, 25, 2), np.float32))
    >>> with open(os.path.join(d, "train_label.pkl"), "wb") as f:
    ...     pickle.dump((["S001C001P001R001A001", "S001C001P002R001A002"], [0, 1]), f)
    >>> data = read_stgcn(d, "train")
    >>> data.layout, data.num_frames.tolist(), data.labels.tolist()
    ('ntu25', [8, 8], [0, 1])
"""

from __future__ import annotations

import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np

from .checks import (
    LAYOUT_FOR_JOINTS,
    check_class_ids,
    check_count,
    check_data_array,
    check_labels,
    check_num_frames,
    finish_split,
    last_nonzero_frames,
    load_label_pickle,
    load_npy,
)
from .container import META_FIELDS, SkeletonData
from .errors import DataFormatError
from .splits import normalize_split


# -- numpy-file layouts ------------------------------------------------------------------
def read_cmd(directory, split: str, mmap: bool = True) -> SkeletonData:
    """CMD / HaLP / ISC: `{split}_data_joint.npy` + `{split}_num_frame.npy` + `{split}_label.pkl`."""
    split = normalize_split(split)
    directory = Path(directory)
    data_path = directory / f"{split}_data_joint.npy"
    frames_path = directory / f"{split}_num_frame.npy"
    label_path = directory / f"{split}_label.pkl"
    data = load_npy(data_path, mmap)
    layout = check_data_array(data, data_path)
    num_frames = load_npy(frames_path, mmap=False)
    num_frames = check_num_frames(num_frames, data.shape[2], frames_path)
    check_count(num_frames, len(data), frames_path, "num_frame", data_path)
    names, labels = load_label_pickle(label_path)
    check_count(labels, len(data), label_path, "labels", data_path)
    return finish_split(data, num_frames, labels, names, data_path, layout, split=split)


def _read_npy_with_label_pickle(data_path: Path, label_path: Path, mmap: bool, split: str,
                                frames: int | None = None) -> SkeletonData:
    data = load_npy(data_path, mmap)
    layout = check_data_array(data, data_path)
    if frames is not None and data.shape[2] != frames:
        raise DataFormatError(data_path, "data", f"T (axis 2) = {frames} frames", f"shape {tuple(data.shape)}")
    names, labels = load_label_pickle(label_path)
    check_count(labels, len(data), label_path, "labels", data_path)
    num_frames = last_nonzero_frames(data, source=data_path)
    return finish_split(data, num_frames, labels, names, data_path, layout, split=split)


def read_stgcn(directory, split: str, mmap: bool = True) -> SkeletonData:
    """ST-GCN: `{split}_data.npy` + `{split}_label.pkl`."""
    split = normalize_split(split)
    directory = Path(directory)
    return _read_npy_with_label_pickle(directory / f"{split}_data.npy", directory / f"{split}_label.pkl",
                                       mmap, split)


def read_aimclr(directory, split: str, mmap: bool = True) -> SkeletonData:
    """AimCLR / CrosSCLR: `{split}_position.npy` (N, 3, 50, 25, 2) + `{split}_label.pkl`."""
    split = normalize_split(split)
    directory = Path(directory)
    return _read_npy_with_label_pickle(directory / f"{split}_position.npy", directory / f"{split}_label.pkl",
                                       mmap, split, frames=50)


# -- CTR-GCN .npz ---------------------------------------------------------------------------
def _npz_member_memmap(path: Path, member: str) -> np.ndarray | None:
    """Memory map of an uncompressed `.npy` member of a zip; None when it is compressed."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
        if info.compress_type != zipfile.ZIP_STORED:
            return None
    with open(path, "rb") as f:
        # the local header's name / extra lengths can differ from the central directory's
        f.seek(info.header_offset)
        local = f.read(30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            raise DataFormatError(path, member, "a zip local file header", "bad signature")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        f.seek(info.header_offset + 30 + name_len + extra_len)
        try:
            version = np.lib.format.read_magic(f)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:  # a newer .npy version: let np.load handle it
                return None
            shape, fortran, dtype = read_header(f)
        except ValueError as err:
            raise DataFormatError(path, member, "an .npy header", str(err)) from None
        offset = f.tell()
    if dtype.hasobject:
        raise DataFormatError(path, member, "a numeric array", f"object dtype {dtype}")
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                     order="F" if fortran else "C")


def _npz_member(path: Path, key: str, mmap: bool) -> np.ndarray:
    member = f"{key}.npy"
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile as err:
        raise DataFormatError(path, "npz", "a zip archive of .npy members (np.savez)", str(err)) from None
    if member not in names:
        raise DataFormatError(path, key, f"a member {member}", f"members {sorted(names)}")
    if mmap:
        mapped = _npz_member_memmap(path, member)
        if mapped is not None:
            return mapped
        warnings.warn(f"{path}: {key} is compressed (np.savez_compressed); loading it into memory. "
                      "Re-save with np.savez to memory-map it.", stacklevel=3)
    with np.load(path, allow_pickle=False) as npz:
        return npz[key]


def one_hot_to_labels(y: np.ndarray, path, field: str) -> np.ndarray:
    if y.ndim == 1:
        labels = check_labels(y, path, field)
        check_class_ids(labels, path, field)
        return labels
    if y.ndim != 2 or not ((y == 0) | (y == 1)).all() or not (y.sum(1) == 1).all():
        raise DataFormatError(path, field, "one-hot labels (N, num_classes) of 0/1 with one 1 per row",
                              f"shape {y.shape}, values in [{y.min()}, {y.max()}]")
    return np.argmax(y, axis=1).astype(np.int64)


def read_ctrgcn(path, split: str, mmap: bool = True) -> SkeletonData:
    """CTR-GCN `.npz`: x (N, T, 150) per frame body 1 25x3 then body 2 -> (N, 3, T, 25, 2) view."""
    split = normalize_split(split)
    path = Path(path)
    suffix = "train" if split == "train" else "test"
    x = _npz_member(path, f"x_{suffix}", mmap)
    y = np.asarray(_npz_member(path, f"y_{suffix}", mmap=False))
    if x.ndim != 3 or x.shape[2] % 3 or (x.shape[2] // 3) % 2 or (x.shape[2] // 6) not in LAYOUT_FOR_JOINTS:
        raise DataFormatError(path, f"x_{suffix}", "shape (N, T, 150) = 2 bodies x 25 joints x 3",
                              f"shape {x.shape}")
    joints = x.shape[2] // 6
    data = x.reshape(x.shape[0], x.shape[1], 2, joints, 3).transpose(0, 4, 1, 3, 2)
    labels = one_hot_to_labels(y, path, f"y_{suffix}")
    check_count(labels, len(data), path, f"y_{suffix}", f"{path}:x_{suffix}")
    names = [f"{path.stem}_{suffix}_{i}" for i in range(len(data))]
    num_frames = last_nonzero_frames(data, source=path)
    meta = {key: np.full(len(data), -1, np.int64) for key in META_FIELDS}
    return finish_split(data, num_frames, labels, names, path, LAYOUT_FOR_JOINTS[joints], meta=meta, split=split)
