"""Reader of PySKL `*_3danno.pkl` files: split name lists plus one annotation per sample.

`benchmark` picks the split lists (`{benchmark}_{split}`, e.g. `xsub_train`); each
annotation's `keypoint` (M, T, V, 3) is read into memory (a PySKL NTU120 split is several
GB: convert big ones once with `sslskel.data.prepare.write_cmd_layout`). Use it through
`sslskel.data.readers.load_split`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .checks import LAYOUT_FOR_JOINTS, check_class_ids, check_labels, check_names, finish_split
from .container import SkeletonData
from .errors import DataFormatError
from .limits import padded_zeros
from .safe_pickle import load_pickle
from .splits import normalize_split


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
    data = padded_zeros((len(wanted), 3, t_max, v, max_bodies), path, "the samples")
    for i, kp in enumerate(keypoints):
        m = min(len(kp), max_bodies)
        data[i, :, :kp.shape[1], :, :m] = kp[:m].transpose(3, 1, 2, 0)
    labels = check_labels([ann["label"] for _, ann in annotations], path, f"split[{key!r}] label")
    check_class_ids(labels, path, f"split[{key!r}] label", names=wanted)
    num_frames = np.array([kp.shape[1] for kp in keypoints], np.int64)
    return finish_split(data, num_frames, labels, wanted, path, LAYOUT_FOR_JOINTS[v], split=split)
