"""Readers for two single-camera Kinect v1 datasets: MSR Action3D and UTD-MHAD.

- MSR Action3D (Li et al. 2010): `aAA_sSS_eEE_skeleton3D.txt`, one joint per line
  `x y z confidence` (metres, camera space), 20 lines per frame, MSR's own joint order
  (layout `msr20`); 20 actions, 10 subjects, 2-3 repetitions.
- UTD-MHAD (Chen et al. 2015): `aA_sS_tT_skeleton.mat` with the variable `d_skel`, shape
  (20, 3, T), metres, camera space, UTD's joint order (layout `utd20`); 27 actions,
  8 subjects, 4 trials. Read with scipy.

Both use their standard cross-subject benchmark `xsub`: odd subjects train, even test.
Labels are action - 1. One person (M = 1); samples are zero padded to the split's longest.

Choices where the files leave room: frames whose every coordinate is zero (Kinect lost the
person; 1,113 of MSR Action3D's 23,478 frames, mostly trailing) are dropped, so they do not
reach the encoder as a skeleton at the camera origin; a sequence with no other frame is
skipped with a warning naming it (MSR's a13_s09_e02 is all zeros). The confidence column
is not used.

Example:
    >>> import os, tempfile, numpy as np
    >>> d = tempfile.mkdtemp()
    >>> for name in ("a01_s01_e01", "a02_s02_e01"):
    ...     np.savetxt(os.path.join(d, name + "_skeleton3D.txt"), np.ones((20 * 3, 4)))
    >>> data = read_msr(d, "train")
    >>> data.names, data.shape, data.layout
    (['a01_s01_e01'], (3, 3, 20, 1), 'msr20')
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from .checks import describe_folder, read_number_rows, warn_skipped_empty
from .container import SkeletonData
from .errors import DataFormatError
from .limits import check_clip_length, format_bytes, padded_zeros, require_memory
from .splits import normalize_split

MSR_NAME = re.compile(r"^a(\d+)_s(\d+)_e(\d+)_skeleton3D$")
UTD_NAME = re.compile(r"^a(\d+)_s(\d+)_t(\d+)_skeleton$")
MSR_CLASSES, UTD_CLASSES = 20, 27
KINECT_V1_BENCHMARKS = ("xsub",)
JOINTS = 20


def odd_subject_mask(subjects: np.ndarray, split: str, benchmark: str = "xsub") -> np.ndarray:
    """Cross-subject split of MSR Action3D and UTD-MHAD: odd subjects train, even test."""
    if benchmark not in KINECT_V1_BENCHMARKS:
        raise ValueError(f"data.benchmark: expected one of {', '.join(KINECT_V1_BENCHMARKS)} for this "
                         f"dataset, got {benchmark!r}")
    is_train = np.asarray(subjects) % 2 == 1
    return is_train if normalize_split(split) == "train" else ~is_train


def list_samples(directory, pattern: re.Pattern, suffix: str) -> list[tuple[Path, tuple[int, ...]]]:
    """Files of `directory` whose stem matches `pattern`, with the pattern's numbers, sorted."""
    out = []
    for path in sorted(Path(directory).glob(f"*{suffix}")):
        match = pattern.match(path.stem)
        if match:
            out.append((path, tuple(int(g) for g in match.groups())))
    return out


def drop_empty_frames(seq: np.ndarray) -> np.ndarray:
    """(T, V, 3) -> the frames with any non-zero coordinate."""
    return seq[(seq != 0).any(axis=(1, 2))]


def read_msr_file(path: Path) -> np.ndarray:
    """One MSR Action3D file -> (T, 20, 3) float32, all-zero frames kept."""
    rows = read_number_rows(path, 4, "x y z confidence")[:, :3]
    if len(rows) % JOINTS:
        raise DataFormatError(path, "lines", f"a multiple of {JOINTS} joint lines (one frame = {JOINTS} lines)",
                              f"{len(rows)}")
    return rows.reshape(-1, JOINTS, 3)


def read_utd_file(path: Path) -> np.ndarray:
    """One UTD-MHAD `.mat` file -> (T, 20, 3) float32 from `d_skel` (20, 3, T)."""
    from scipy.io import loadmat  # scipy only for this format

    try:
        check_declared_size(path)
        content = loadmat(str(path))
    except DataFormatError:
        raise
    except Exception as err:  # scipy raises several types for a bad file
        raise DataFormatError(path, "mat", "a MATLAB .mat file", f"{type(err).__name__}: {err}") from None
    if "d_skel" not in content:
        keys = sorted(k for k in content if not k.startswith("__"))
        raise DataFormatError(path, "d_skel", "a variable d_skel of shape (20, 3, T)", f"variables {keys}")
    skel = np.asarray(content["d_skel"])
    if skel.ndim == 2 and skel.shape == (JOINTS, 3):  # one frame: MATLAB drops the trailing 1
        skel = skel[..., None]
    if skel.ndim != 3 or skel.shape[:2] != (JOINTS, 3) or not np.issubdtype(skel.dtype, np.number):
        raise DataFormatError(path, "d_skel", "a numeric array of shape (20, 3, T)",
                              f"{skel.dtype} of shape {skel.shape}")
    if np.iscomplexobj(skel):  # numpy's own ComplexWarning would name no file
        warnings.warn(f"{path}: d_skel holds complex numbers (largest imaginary part "
                      f"{float(np.abs(skel.imag).max()):.3g}); reading their real parts", stacklevel=2)
        skel = skel.real
    return skel.transpose(2, 0, 1).astype(np.float32)


# zlib's deflate compresses at most ~1032:1, so a compressed variable holds at most that much
MAX_DEFLATE_RATIO = 1032
MAT_HEADER_BYTES = 128
MI_COMPRESSED = 15


def check_declared_size(path: Path) -> None:
    """Refuse a .mat file whose variables' declared shapes hold more bytes than the file can
    (its size, x `MAX_DEFLATE_RATIO` when compressed) or than fit in memory, before scipy
    allocates them (a 466 KB file declaring 20 x 3 x 2,000,000 frames asked for 36 GiB)."""
    from scipy.io import whosmat

    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(MAT_HEADER_BYTES + 4)
    order = "<" if header[126:128] == b"IM" else ">"
    compressed = len(header) == MAT_HEADER_BYTES + 4 and \
        int(np.frombuffer(header[128:132], f"{order}u4")[0]) == MI_COMPRESSED
    bound = size * (MAX_DEFLATE_RATIO if compressed else 1)
    for name, shape, kind in whosmat(str(path)):
        declared = int(np.prod(shape, dtype=object)) * 8  # a double each (the widest real class)
        if declared > bound:
            raise DataFormatError(path, name, f"a variable that fits in the file ({size} bytes"
                                  f"{', compressed' if compressed else ''})",
                                  f"a declared shape {tuple(shape)} ({format_bytes(declared)} of {kind})")
        require_memory(declared, path, name, f"variable {name} {tuple(shape)}")
        if name == "d_skel" and len(shape) == 3:
            check_clip_length(shape[2], path, "d_skel")


def _assemble(samples, split, benchmark, read_file, layout, num_classes, source, fields) -> SkeletonData:
    """Read the files of `split`, drop empty frames / sequences, pad, and build the container."""
    if not samples:
        raise DataFormatError(source, "files", f"sample files of this dataset ({fields})",
                              f"none; {describe_folder(source)}")
    codes = np.array([c for _, c in samples], np.int64)  # action, subject, repetition
    keep = odd_subject_mask(codes[:, 1], split, benchmark)
    sequences, kept, skipped = [], [], []
    for (path, code), chosen in zip(samples, keep):
        if not chosen:
            continue
        if not 1 <= code[0] <= num_classes:
            raise DataFormatError(path, "action", f"an action id in [1, {num_classes}]", str(code[0]))
        seq = read_file(path)
        if not np.isfinite(seq).all():
            frame = int(np.argwhere(~np.isfinite(seq))[0][0])
            raise DataFormatError(path, f"frame {frame}", "finite coordinates", "NaN or inf")
        check_clip_length(len(seq), path)
        seq = drop_empty_frames(seq)
        if len(seq) == 0:
            skipped.append(path.name)
            continue
        sequences.append(seq)
        kept.append((path, code))
    warn_skipped_empty(source, skipped)
    t_max = max((len(s) for s in sequences), default=1)
    data = padded_zeros((len(sequences), 3, t_max, JOINTS, 1), source, "the clips")
    for i, seq in enumerate(sequences):
        data[i, :, :len(seq), :, 0] = seq.transpose(2, 0, 1)
    codes = np.array([c for _, c in kept], np.int64).reshape(-1, 3)
    meta = {"setup": np.full(len(kept), -1, np.int64), "camera": np.ones(len(kept), np.int64),
            "subject": codes[:, 1], "replication": codes[:, 2], "action": codes[:, 0]}
    names = [p.stem.rsplit("_", 1)[0] for p, _ in kept]
    out = SkeletonData(data, [len(s) for s in sequences], codes[:, 0] - 1, names, meta=meta,
                       layout=layout, source=str(source), num_classes=num_classes)
    return out.require_nonempty(split)


def read_msr(directory, split: str, benchmark: str = "xsub") -> SkeletonData:
    """MSR Action3D folder -> the `split` of the cross-subject benchmark (layout msr20)."""
    samples = list_samples(directory, MSR_NAME, ".txt")
    return _assemble(samples, split, benchmark, read_msr_file, "msr20", MSR_CLASSES, directory,
                     "aAA_sSS_eEE_skeleton3D.txt")


def read_utd(directory, split: str, benchmark: str = "xsub") -> SkeletonData:
    """UTD-MHAD skeleton folder -> the `split` of the cross-subject benchmark (layout utd20)."""
    samples = list_samples(directory, UTD_NAME, ".mat")
    return _assemble(samples, split, benchmark, read_utd_file, "utd20", UTD_CLASSES, directory,
                     "aA_sS_tT_skeleton.mat")


def is_msr_dir(path: Path) -> bool:
    return any(MSR_NAME.match(p.stem) for p in path.glob("*.txt"))


def is_utd_dir(path: Path) -> bool:
    return any(UTD_NAME.match(p.stem) for p in path.glob("*.mat"))
