"""Normalisation applied while reading data (`data.normalize`), per skeleton layout.

Modes:
- "prenorm": the 2s-AGCN pre-normalisation with the layout's own joints: pad null frames by
  repetition, subtract body 1's centre joint of each frame from every present joint, then
  rotate the whole sample so body 1's first-frame spine (`layout.spine`) lies on +z and its
  right-minus-left shoulder line (`layout.shoulders`) lies in the xz-plane towards +x.
- "center": only the centring of "prenorm" (no rotation).
- "none": the coordinates as stored.
- "auto" (the config default) is resolved per file format by `resolve_mode`: CMD / HaLP and
  AimCLR files were pre-normalised when they were made, so they are read as stored (and
  `check_prenormalized` warns when they do not look like it); every other format (raw NTU,
  ST-GCN, CTR-GCN, PySKL, PKU-MMD, NW-UCLA, MSR Action3D, UTD-MHAD) gets "prenorm".

One deviation from the 2s-AGCN reference (`sslskel.data.agcn_preprocess`, which the NTU converter
keeps so its output matches the CMD files users have): the reference applies two minimal
rotations, so the spine ends near, not on, +z and a second application rotates again. Here
the second rotation turns about z only (a right-handed frame built from the spine and the
shoulder line), so the spine is exactly on +z and normalising twice changes nothing.

Example:
    >>> import numpy as np
    >>> from sslskel.data.layouts import get_layout
    >>> x = np.random.default_rng(0).normal(size=(2, 3, 8, 20, 1)).astype(np.float32)
    >>> layout = get_layout("msr20")
    >>> y = normalize_skeletons(x, np.array([8, 6]), layout, "prenorm")
    >>> spine = y[:, :, 0, layout.spine[1], 0] - y[:, :, 0, layout.spine[0], 0]
    >>> bool(np.allclose(spine[:, :2], 0, atol=1e-5) and (spine[:, 2] > 0).all())
    True
    >>> bool(np.allclose(normalize_skeletons(y, np.array([8, 6]), layout, "prenorm"), y, atol=1e-5))
    True
"""

from __future__ import annotations

import warnings

import numpy as np

from .agcn_preprocess import pad_null_frames
from .layouts import SkeletonLayout

NORMALIZE_MODES = ("auto", "prenorm", "center", "none")
# file formats whose files were pre-normalised when they were made, and the joint (NTU,
# 0-based) they were centred on: CMD / HaLP on spine mid, AimCLR on spine at shoulders
PRENORMALIZED_FORMATS = {"cmd": 1, "aimclr": 20}
# a pre-normalised file has its centre joint at the origin; raw Kinect data is metres away
CENTER_TOLERANCE_M = 0.1


def check_mode(mode: str) -> None:
    """A ValueError naming `data.normalize` unless `mode` is one of NORMALIZE_MODES (the one
    check of the setting: the config's start-up checks call it too)."""
    if mode not in NORMALIZE_MODES:
        raise ValueError(f"data.normalize: expected one of {', '.join(NORMALIZE_MODES)}, got {mode!r}")


def resolve_mode(mode: str, file_format: str) -> str:
    """The concrete mode ("prenorm", "center" or "none") that `mode` means for `file_format`."""
    check_mode(mode)
    if mode != "auto":
        return mode
    return "none" if file_format in PRENORMALIZED_FORMATS else "prenorm"


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, norm, out=np.zeros_like(v), where=norm > 1e-9)


def body_frame(spine: np.ndarray, shoulders: np.ndarray) -> np.ndarray:
    """(N, 3) spine and shoulder vectors -> (N, 3, 3) rotations R (rows x, y, z axes).

    R @ spine is on +z; R @ shoulders lies in the xz-plane with a positive x. A zero spine
    keeps the identity; a shoulder line parallel to the spine turns only the spine.
    """
    z = _unit(spine)
    identity = np.broadcast_to(np.eye(3), (len(spine), 3, 3))
    # spine missing: the z axis stays where it is
    z = np.where(np.linalg.norm(z, axis=-1, keepdims=True) > 0, z, identity[:, 2])
    x = _unit(shoulders - (shoulders * z).sum(-1, keepdims=True) * z)
    # shoulder line unusable: any x perpendicular to z (the projection of the old x axis, or y)
    fallback = _unit(identity[:, 0] - z[:, :1] * z)
    fallback = np.where(np.linalg.norm(fallback, axis=-1, keepdims=True) > 0, fallback,
                        _unit(identity[:, 1] - z[:, 1:2] * z))
    x = np.where(np.linalg.norm(x, axis=-1, keepdims=True) > 0, x, fallback)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


def normalize_skeletons(data: np.ndarray, num_frames: np.ndarray, layout: SkeletonLayout,
                        mode: str) -> np.ndarray:
    """(N, 3, T, V, M) -> a normalised float32 copy ("prenorm", "center") or `data` ("none")."""
    if mode == "none":
        return data
    if mode not in ("prenorm", "center"):
        raise ValueError(f"normalize mode: expected prenorm, center or none, got {mode!r}")
    if data.ndim != 5 or data.shape[1] != 3:
        raise ValueError(f"expected (N, 3, T, V, M) coordinates, got shape {data.shape}")
    if data.shape[3] != layout.num_joints:
        raise ValueError(f"layout {layout.name} has {layout.num_joints} joints, the data {data.shape[3]}")
    s = pad_null_frames(np.asarray(data, dtype=np.float64).transpose(0, 4, 2, 3, 1), num_frames)
    # s: (N, M, T, V, C); absent joints are zeros and stay zeros
    present = (s != 0).any(axis=-1, keepdims=True)
    s = (s - s[:, :1, :, layout.center:layout.center + 1]) * present
    if mode == "prenorm":
        first = s[:, 0, 0]  # body 1, frame 0: (N, V, 3)
        rotation = body_frame(first[:, layout.spine[1]] - first[:, layout.spine[0]],
                              first[:, layout.shoulders[0]] - first[:, layout.shoulders[1]])
        points = s.reshape(len(s), -1, 3)
        s = np.matmul(points, rotation.transpose(0, 2, 1)).reshape(s.shape)
    return np.ascontiguousarray(s.transpose(0, 4, 2, 3, 1), dtype=np.float32)


def check_prenormalized(data, file_format: str, max_samples: int = 256) -> None:
    """Warn, naming the file, when files taken as pre-normalised have their centre far away."""
    joint = PRENORMALIZED_FORMATS.get(file_format)
    if joint is None or data.data.shape[3] <= joint or data.data.shape[1] != 3 or not len(data):
        return
    rows = np.linspace(0, len(data) - 1, min(len(data), max_samples)).astype(int)
    distances = []
    for i in rows:
        x = data.data[data.row(int(i))][:, : int(data.num_frames[i]), joint, 0]  # (3, n)
        present = (x != 0).any(0)
        if present.any():
            distances.append(float(np.linalg.norm(x[:, present].mean(1))))
    far = [d for d in distances if d > CENTER_TOLERANCE_M]
    if far:
        warnings.warn(
            f"{data.source}: data.normalize=auto reads {file_format} files as already pre-normalised, "
            f"but body 1's centre joint is on average {np.mean(far):.2f} m from the origin in "
            f"{len(far)} of {len(distances)} checked samples; if these files were not "
            "pre-normalised, set data.normalize=prenorm", stacklevel=2)
