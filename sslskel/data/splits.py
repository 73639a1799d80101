"""Official train / test splits of NTU RGB+D 60/120, NW-UCLA and PKU-MMD (docs/methods.md, Splits).

NTU: `xsub` trains on a fixed subject list (NTU120's list is NTU60's plus subjects > 40,
so one list serves both datasets), `xview` on cameras 2 and 3, `xset` on even setup ids.
NW-UCLA trains on views 1 and 2 and tests on view 3. PKU-MMD split files list the train
video ids on line 2 and the test ids on line 4.

Example:
    >>> import numpy as np
    >>> meta = {"subject": np.array([1, 3]), "camera": np.array([2, 1]), "setup": np.array([2, 3])}
    >>> ntu_split_mask(meta, "xsub", "train").tolist(), ntu_split_mask(meta, "xview", "test").tolist()
    ([True, False], [False, True])
"""

from __future__ import annotations

import os
import re

import numpy as np

from .errors import DataFormatError
from .limits import MAX_LIST_LINE_BYTES, read_lines

NTU60_XSUB_TRAIN_SUBJECTS = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
NTU120_XSUB_TRAIN_SUBJECTS = NTU60_XSUB_TRAIN_SUBJECTS + (
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86,
    89, 91, 92, 93, 94, 95, 97, 98, 100, 103)
NTU_XVIEW_TRAIN_CAMERAS = (2, 3)
NTU_BENCHMARKS = ("xsub", "xview", "xset")
UCLA_TRAIN_VIEWS = (1, 2)
SPLITS = ("train", "val")


def normalize_split(split: str) -> str:
    """'train' -> 'train'; 'val' or 'test' -> 'val'."""
    name = {"train": "train", "val": "val", "test": "val"}.get(split)
    if name is None:
        raise ValueError(f"unknown split {split!r}; valid: 'train', 'val' (alias 'test')")
    return name


def check_ntu_benchmark(benchmark: str | None) -> str:
    if benchmark not in NTU_BENCHMARKS:
        raise ValueError(f"unknown NTU benchmark {benchmark!r}; valid: {', '.join(NTU_BENCHMARKS)}")
    return benchmark


def ntu_split_mask(meta: dict[str, np.ndarray], benchmark: str, split: str, source="") -> np.ndarray:
    """Boolean mask of the samples in `split` of the official NTU `benchmark`."""
    benchmark = check_ntu_benchmark(benchmark)
    split = normalize_split(split)
    field, train_values = {
        "xsub": ("subject", NTU120_XSUB_TRAIN_SUBJECTS),
        "xview": ("camera", NTU_XVIEW_TRAIN_CAMERAS),
        "xset": ("setup", None),
    }[benchmark]
    values = np.asarray(meta[field])
    if len(values) and values.min() < 1:
        bad = int(np.argmin(values))
        raise DataFormatError(source, f"{field} of sample {bad}",
                              f"a known {field} (from an SxxxCxxxPxxxRxxxAxxx name) for the {benchmark} split",
                              str(int(values[bad])))
    is_train = values % 2 == 0 if train_values is None else np.isin(values, train_values)
    return is_train if split == "train" else ~is_train


def ucla_split_mask(views: np.ndarray, split: str) -> np.ndarray:
    """NW-UCLA cross-view split: views 1 and 2 train, view 3 test."""
    is_train = np.isin(np.asarray(views), UCLA_TRAIN_VIEWS)
    return is_train if normalize_split(split) == "train" else ~is_train


def parse_pku_split_file(path: str | os.PathLike) -> dict[str, list[str]]:
    """PKU-MMD split file -> {'train': ids from line 2, 'val': ids from line 4}."""
    lines = read_lines(path, limit=MAX_LIST_LINE_BYTES)
    if len(lines) < 4:
        raise DataFormatError(path, f"line {len(lines) + 1}",
                              "4 lines (title, train ids, title, test ids)", f"{len(lines)} lines")
    out = {}
    for split, k in (("train", 1), ("val", 3)):
        ids = [t for t in re.split(r"[,\s]+", lines[k]) if t]
        if not ids:
            raise DataFormatError(path, f"line {k + 1}", f"comma-separated {split} video ids", "an empty line")
        out[split] = ids
    return out
