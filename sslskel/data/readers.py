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

import json
import os
import re
import struct
import warnings
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from .container import META_FIELDS, SkeletonData, ntu_meta_from_names, release_mapped_pages
from .errors import DataFormatError
from .kinect_v1 import is_msr_dir, is_utd_dir, read_msr, read_utd
from .ntu_raw import list_skeleton_files, read_ntu_raw
from .safe_pickle import load_pickle
from .splits import (check_ntu_benchmark, normalize_split, ntu_split_mask,
                     parse_pku_split_file, ucla_split_mask)

LAYOUT_FOR_JOINTS = {25: "ntu25", 20: "ucla20"}
UCLA_ACTIONS = (1, 2, 3, 4, 5, 6, 8, 9, 11, 12)
PKU_SPLIT_FILES = {"xsub": "cross-subject.txt", "xview": "cross-view.txt"}
PKU_CAMERAS = {"L": 1, "M": 2, "R": 3}
NTU_MISSING_LISTS = ("NTU_RGBD_samples_with_missing_skeletons.txt",
                     "NTU_RGBD120_samples_with_missing_skeletons.txt")
NUM_FRAMES_CHUNK = 256


# -- checks shared by the readers -----------------------------------------------------------
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


def _finish(data, num_frames, labels, names, source, layout, meta=None, split="") -> SkeletonData:
    meta = ntu_meta_from_names(names) if meta is None else meta
    out = SkeletonData(data, num_frames, labels, names, meta=meta, layout=layout, source=str(source))
    return out.require_nonempty(split)


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
    if num_frames.ndim != 1 or not np.issubdtype(num_frames.dtype, np.number):
        raise DataFormatError(frames_path, "num_frame", "a 1-D numeric array",
                              f"{num_frames.dtype} of shape {num_frames.shape}")
    check_count(num_frames, len(data), frames_path, "num_frame", data_path)
    names, labels = load_label_pickle(label_path)
    check_count(labels, len(data), label_path, "labels", data_path)
    return _finish(data, num_frames.astype(np.int64), labels, names, data_path, layout, split=split)


def _read_npy_with_label_pickle(data_path: Path, label_path: Path, mmap: bool, split: str,
                                frames: int | None = None) -> SkeletonData:
    data = load_npy(data_path, mmap)
    layout = check_data_array(data, data_path)
    if frames is not None and data.shape[2] != frames:
        raise DataFormatError(data_path, "data", f"T (axis 2) = {frames} frames", f"shape {tuple(data.shape)}")
    names, labels = load_label_pickle(label_path)
    check_count(labels, len(data), label_path, "labels", data_path)
    num_frames = last_nonzero_frames(data, source=data_path)
    return _finish(data, num_frames, labels, names, data_path, layout, split=split)


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
        return check_labels(y, path, field)
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
    return _finish(data, num_frames, labels, names, path, LAYOUT_FOR_JOINTS[joints], meta=meta, split=split)


# -- PySKL -----------------------------------------------------------------------------------
def read_pyskl(path, split: str, benchmark: str = "xsub", max_bodies: int = 2) -> SkeletonData:
    """PySKL `*_3danno.pkl`: keypoint float16 (M, T, 25, 3) per annotation -> in memory."""
    split = normalize_split(split)
    path = Path(path)
    content = load_pickle(path)
    if not isinstance(content, dict) or "split" not in content or "annotations" not in content:
        raise DataFormatError(path, "pickle content", "dict(split=..., annotations=[...])",
                              type(content).__name__ if not isinstance(content, dict) else f"keys {sorted(content)}")
    key = f"{benchmark}_{split}"
    if key not in content["split"]:
        raise DataFormatError(path, "split", f"a key {key!r}", f"keys {sorted(content['split'])}")
    wanted = check_names(content["split"][key], path, f"split[{key!r}]")
    by_name = {}
    for k, ann in enumerate(content["annotations"]):
        if not isinstance(ann, dict) or not {"frame_dir", "label", "keypoint"} <= set(ann):
            raise DataFormatError(path, f"annotations[{k}]", "a dict with frame_dir, label, keypoint",
                                  type(ann).__name__ if not isinstance(ann, dict) else f"keys {sorted(ann)}")
        by_name[ann["frame_dir"]] = (k, ann)
    absent = [n for n in wanted if n not in by_name]
    if absent:
        raise DataFormatError(path, f"split[{key!r}]", "names that all have an annotation",
                              f"{len(absent)} without, e.g. {absent[0]!r}")
    annotations = [by_name[n] for n in wanted]
    keypoints = []
    for k, ann in annotations:
        kp = np.asarray(ann["keypoint"])
        if kp.ndim != 4 or kp.shape[3] != 3 or kp.shape[2] not in LAYOUT_FOR_JOINTS or kp.shape[1] < 1:
            raise DataFormatError(path, f"annotations[{k}].keypoint", "shape (M, T, 25, 3)", f"shape {kp.shape}")
        keypoints.append(kp)
    joints = {kp.shape[2] for kp in keypoints}
    if len(joints) > 1:
        raise DataFormatError(path, "keypoint", "one joint count for all samples", f"{sorted(joints)}")
    t_max = max((kp.shape[1] for kp in keypoints), default=1)
    v = joints.pop() if joints else 25
    data = np.zeros((len(wanted), 3, t_max, v, max_bodies), np.float32)
    for i, kp in enumerate(keypoints):
        m = min(len(kp), max_bodies)
        data[i, :, :kp.shape[1], :, :m] = kp[:m].transpose(3, 1, 2, 0)
    labels = check_labels([ann["label"] for _, ann in annotations], path, "annotations.label")
    num_frames = np.array([kp.shape[1] for kp in keypoints], np.int64)
    return _finish(data, num_frames, labels, wanted, path, LAYOUT_FOR_JOINTS[v], split=split)


# -- NW-UCLA ---------------------------------------------------------------------------------
_UCLA_NAME = re.compile(r"a(\d+)_s(\d+)_e(\d+)_v(\d+)$")


def read_ucla(directory, split: str) -> SkeletonData:
    """NW-UCLA JSON files `aAA_sSS_eEE_vVV.json` -> (N, 3, T_max, 20, 1), view split."""
    split = normalize_split(split)
    directory = Path(directory)
    files = sorted(p for p in directory.glob("*.json") if _UCLA_NAME.match(p.stem))
    codes = np.array([[int(g) for g in _UCLA_NAME.match(p.stem).groups()] for p in files],
                     np.int64).reshape(-1, 4)  # action, subject, episode, view
    in_split = ucla_split_mask(codes[:, 3], split)
    files = [p for p, keep in zip(files, in_split) if keep]
    codes = codes[in_split]
    label_of = {a: i for i, a in enumerate(UCLA_ACTIONS)}
    for p, (action, *_rest) in zip(files, codes):
        if action not in label_of:
            raise DataFormatError(p, "action", f"one of a{', a'.join(f'{a:02d}' for a in UCLA_ACTIONS)}",
                                  f"a{action:02d}")
    sequences = [_read_ucla_json(p) for p in files]
    t_max = max((len(s) for s in sequences), default=1)
    data = np.zeros((len(files), 3, t_max, 20, 1), np.float32)
    for i, seq in enumerate(sequences):
        data[i, :, :len(seq), :, 0] = seq.transpose(2, 0, 1)
    meta = {"setup": np.full(len(files), -1, np.int64), "camera": codes[:, 3], "subject": codes[:, 1],
            "replication": codes[:, 2], "action": codes[:, 0]}
    labels = np.array([label_of[a] for a in codes[:, 0]], np.int64)
    out = SkeletonData(data, [len(s) for s in sequences], labels, [p.stem for p in files], meta=meta,
                       layout="ucla20", source=str(directory), num_classes=len(UCLA_ACTIONS))
    return out.require_nonempty(split)


def _read_ucla_json(path: Path) -> np.ndarray:
    try:
        with open(path, "r", encoding="utf-8") as f:
            content = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataFormatError(path, "json", "a valid JSON file", str(err)) from None
    if not isinstance(content, dict) or "skeletons" not in content:
        raise DataFormatError(path, "skeletons", "a JSON object with a 'skeletons' list", "no such key")
    try:
        seq = np.asarray(content["skeletons"], dtype=np.float32)
    except (ValueError, TypeError) as err:
        raise DataFormatError(path, "skeletons", "a [T][20][3] list of numbers", str(err)) from None
    if seq.ndim != 3 or seq.shape[1:] != (20, 3) or len(seq) < 1:
        raise DataFormatError(path, "skeletons", "shape [T >= 1][20][3]", f"shape {list(seq.shape)}")
    return seq


# -- PKU-MMD -------------------------------------------------------------------------------
def read_pku(directory, split: str, benchmark: str = "xsub", max_frames: int = 300) -> SkeletonData:
    """PKU-MMD: every labelled interval of a long sequence is one sample."""
    split = normalize_split(split)
    directory = Path(directory)
    split_file = _find_pku_split_file(directory, benchmark)
    videos = parse_pku_split_file(split_file)[split]
    intervals = []  # (video, k, label, start, end)
    for video in videos:
        for k, (label, start, end) in enumerate(_read_pku_labels(directory / "label" / f"{video}.txt")):
            intervals.append((video, k, label, start, end))
    lengths = [min(end - start + 1, max_frames) for *_, start, end in intervals]
    cut = sum(end - start + 1 > max_frames for *_, start, end in intervals)
    if cut:
        warnings.warn(f"{directory}: {cut} PKU-MMD actions longer than {max_frames} frames were cut", stacklevel=2)
    data = np.zeros((len(intervals), 3, max(lengths, default=1), 25, 2), np.float32)
    sequences: dict[str, np.ndarray] = {}
    for i, (video, k, label, start, end) in enumerate(intervals):
        if video not in sequences:
            sequences = {video: _read_pku_skeleton(directory / "skeleton" / f"{video}.txt")}
        seq = sequences[video]
        if end >= len(seq):
            raise DataFormatError(directory / "label" / f"{video}.txt", f"line {k + 1}",
                                  f"an end frame < {len(seq)} (frames in skeleton/{video}.txt)", str(end))
        part = seq[start:start + lengths[i]]  # (T, 150)
        data[i, :, :len(part)] = part.reshape(len(part), 2, 25, 3).transpose(3, 0, 2, 1)
    names = [f"{video}_{k:03d}" for video, k, *_ in intervals]
    camera = np.array([PKU_CAMERAS.get(video.rsplit("-", 1)[-1], -1) for video, *_ in intervals], np.int64)
    meta = {key: np.full(len(intervals), -1, np.int64) for key in META_FIELDS}
    meta["camera"] = camera
    labels = np.array([label for _, _, label, *_ in intervals], np.int64)
    out = SkeletonData(data, lengths, labels, names, meta=meta, layout="ntu25", source=str(directory))
    return out.require_nonempty(split)


def _find_pku_split_file(directory: Path, benchmark: str) -> Path:
    if benchmark not in PKU_SPLIT_FILES:
        raise ValueError(f"unknown PKU-MMD benchmark {benchmark!r}; valid: {', '.join(PKU_SPLIT_FILES)}")
    for candidate in (directory / PKU_SPLIT_FILES[benchmark], directory / "split" / PKU_SPLIT_FILES[benchmark]):
        if candidate.exists():
            return candidate
    raise DataFormatError(directory, "split file", f"{PKU_SPLIT_FILES[benchmark]} in the directory or in split/",
                          "not found")


def _read_pku_labels(path: Path) -> list[tuple[int, int, int]]:
    if not path.exists():
        raise DataFormatError(path, "file", "a label file for a video of the split file", "not found")
    out = []
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split(",")]
            try:
                label, start, end = (int(p) for p in parts[:3])
                float(parts[3])
            except (ValueError, IndexError):
                raise DataFormatError(path, f"line {line_no}", "class,start,end,confidence (integers, float)",
                                      repr(line.strip())) from None
            if label < 1 or start < 0 or end < start:
                raise DataFormatError(path, f"line {line_no}", "class >= 1 and 0 <= start <= end",
                                      repr(line.strip()))
            out.append((label - 1, start, end))
    return out


def _read_pku_skeleton(path: Path) -> np.ndarray:
    if not path.exists():
        raise DataFormatError(path, "file", "a skeleton file for a video of the split file", "not found")
    rows = []
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                values = np.array(line.split(), dtype=np.float32)
            except ValueError:
                raise DataFormatError(path, f"line {line_no}", "150 numbers", "a non-numeric token") from None
            if values.size != 150:
                raise DataFormatError(path, f"line {line_no}", "150 numbers (2 bodies x 25 joints x 3)",
                                      f"{values.size}")
            rows.append(values)
    if not rows:
        raise DataFormatError(path, "frames", "at least one frame line", "0")
    return np.stack(rows)


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
    for file_format, file_name in (("cmd", f"{split}_data_joint.npy"), ("aimclr", f"{split}_position.npy"),
                              ("stgcn", f"{split}_data.npy")):
        if (path / file_name).exists():
            return file_format
    if (path / "skeleton").is_dir() and (path / "label").is_dir():
        return "pku"
    if next(path.glob("*.skeleton"), None) is not None:
        return "ntu_raw"
    if any(_UCLA_NAME.match(p.stem) for p in path.glob("*.json")):
        return "ucla"
    if is_msr_dir(path):
        return "msr"
    if is_utd_dir(path):
        return "utd"
    raise DataFormatError(path, "file format", f"one of {', '.join(FILE_FORMATS)} (see sslskel.data.readers)",
                          f"entries {sorted(p.name for p in path.iterdir())[:8]}")


def load_split(path, split: str, *, benchmark: str | None = None, file_format: str | None = None,
               mmap: bool = True, missing_file=None) -> SkeletonData:
    """Read the train or val ('test' = 'val') split of whatever file format is at `path`."""
    path = Path(path)
    split = normalize_split(split)
    if benchmark is not None and path.is_dir() and (path / benchmark).is_dir():
        path = path / benchmark
    file_format = detect_format(path, split) if file_format is None else file_format
    data = _read(path, split, benchmark, file_format, mmap, missing_file)
    return replace(data, file_format=file_format, index=data.index)


def _read(path: Path, split: str, benchmark, file_format: str, mmap: bool, missing_file) -> SkeletonData:
    reader = READERS.get(file_format)
    if reader is None:
        raise ValueError(f"data.format: unknown file format {file_format!r}; valid: {', '.join(FILE_FORMATS)}")
    return reader(path, split, benchmark, mmap, missing_file)
