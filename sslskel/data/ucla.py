"""Reader of NW-UCLA: a folder of `aAA_sSS_eEE_vVV.json` files (layout ucla20, one person).

The view split comes from `sslskel.data.splits.ucla_split_mask`; labels index
`UCLA_ACTIONS`; samples are zero-padded to the longest one of the split. Use it through
`sslskel.data.readers.load_split`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from .checks import describe_folder
from .container import SkeletonData
from .errors import DataFormatError
from .limits import check_clip_length, padded_zeros
from .splits import normalize_split, ucla_split_mask

UCLA_ACTIONS = (1, 2, 3, 4, 5, 6, 8, 9, 11, 12)
JSON_TYPES = {list: "list", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}
_UCLA_NAME = re.compile(r"a(\d+)_s(\d+)_e(\d+)_v(\d+)$")


def is_ucla_dir(path: Path) -> bool:
    """True when the folder holds at least one NW-UCLA `aAA_sSS_eEE_vVV.json` file."""
    return any(_UCLA_NAME.match(p.stem) for p in Path(path).glob("*.json"))


def read_ucla(directory, split: str) -> SkeletonData:
    """NW-UCLA JSON files `aAA_sSS_eEE_vVV.json` -> (N, 3, T_max, 20, 1), view split."""
    split = normalize_split(split)
    directory = Path(directory)
    files = sorted(p for p in directory.glob("*.json") if _UCLA_NAME.match(p.stem))
    if not files:
        raise DataFormatError(directory, "files", "NW-UCLA files aAA_sSS_eEE_vVV.json (data.format=ucla)",
                              f"none; {describe_folder(directory)}")
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
    data = padded_zeros((len(files), 3, t_max, 20, 1), directory, "the clips")
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
    if not isinstance(content, dict):
        raise DataFormatError(path, "top level", "a JSON object with a 'skeletons' list",
                              f"a JSON {JSON_TYPES.get(type(content), type(content).__name__)}")
    if "skeletons" not in content:
        raise DataFormatError(path, "skeletons", "a JSON object with a 'skeletons' list",
                              f"no such key (keys: {', '.join(sorted(map(str, content))[:8]) or 'none'})")
    try:
        seq = np.asarray(content["skeletons"], dtype=np.float32)
    except (ValueError, TypeError) as err:
        raise DataFormatError(path, "skeletons", "a [T][20][3] list of numbers", str(err)) from None
    if seq.ndim != 3 or seq.shape[1:] != (20, 3) or len(seq) < 1:
        raise DataFormatError(path, "skeletons", "shape [T >= 1][20][3]", f"shape {list(seq.shape)}")
    check_clip_length(len(seq), path, "skeletons")
    return seq
