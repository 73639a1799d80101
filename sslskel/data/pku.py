"""Reader of PKU-MMD: `skeleton/*.txt`, `label/*.txt` and a split file.

Every labelled interval `class,start,end,confidence` of a long sequence is one sample;
`start,end` are read as 0-based inclusive frame indices and cut to at most `max_frames`
(300) frames; samples are zero-padded to the longest one of the split. `benchmark` picks
the split file (`PKU_SPLIT_FILES`). Use it through `sslskel.data.readers.load_split`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .checks import read_number_rows
from .container import META_FIELDS, SkeletonData
from .errors import DataFormatError
from .limits import padded_zeros, read_lines
from .splits import normalize_split, parse_pku_split_file

PKU_SPLIT_FILES = {"xsub": "cross-subject.txt", "xview": "cross-view.txt"}
PKU_CAMERAS = {"L": 1, "M": 2, "R": 3}
PKU_CLASSES = 51


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
    data = padded_zeros((len(intervals), 3, max(lengths, default=1), 25, 2), directory, "the labelled actions")
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
    for line_no, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        try:
            label, start, end = (int(p) for p in parts[:3])
            float(parts[3])
        except (ValueError, IndexError):
            raise DataFormatError(path, f"line {line_no}", "class,start,end,confidence (integers, float)",
                                  repr(line.strip())) from None
        if not 1 <= label <= PKU_CLASSES or start < 0 or end < start:
            raise DataFormatError(path, f"line {line_no}",
                                  f"class in [1, {PKU_CLASSES}] (PKU-MMD's actions) and 0 <= start <= end",
                                  repr(line.strip()))
        out.append((label - 1, start, end))
    return out


def _read_pku_skeleton(path: Path) -> np.ndarray:
    if not path.exists():
        raise DataFormatError(path, "file", "a skeleton file for a video of the split file", "not found")
    rows = read_number_rows(path, 150, "2 bodies x 25 joints x 3")
    if not len(rows):
        raise DataFormatError(path, "frames", "at least one frame line", "0")
    return rows
