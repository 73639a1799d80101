"""The 2s-AGCN "pre-normalisation" used to make the CMD / HaLP data (docs/methods.md, Normalisation):
the reference the converter and the synthetic cache use. Not the `data.normalize: prenorm` mode,
which is `sslskel.data.normalize`'s per-sequence variant of it.

Steps, on a (N, C=3, T, V, M) array, vectorised over samples and bodies:
1. Pad null frames by repetition, per body: if the body's first frame is empty, its
   non-empty frames are moved to the front (order kept); then everything after its last
   non-empty frame is filled by tiling frames [0, L) (frame t gets frame t mod L).
2. Subtract body 1's centre joint (spine mid, 0-based 1) of each frame from every joint
   that is present (non-zero) in that frame; absent joints stay zero.
3. Rotate every sample so body 1's frame-0 bone joint 0 -> joint 1 points along +z.
4. Rotate so body 1's frame-0 vector right shoulder - left shoulder (joint 8 minus joint
   4, as in the reference code) points along +x.
Both rotations are the minimal rotation (about the cross product axis) that aligns the
vector, as in the reference; the second one keeps the spine on z only when the shoulder
line is perpendicular to it, so in general the final spine is close to, not exactly on, z.

Deviations from the reference loops, all on degenerate inputs: a frame / joint is "present"
when any coordinate is non-zero (the reference tests the coordinate sum); frames at or after
`num_frames` are treated as empty; a vector pointing exactly opposite the target is rotated
by pi about a perpendicular axis (the reference leaves it unrotated); zero vectors give the
identity as in the reference. Empty samples are left as zeros.

Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(2, 3, 8, 25, 2)).astype(np.float32)
    >>> y = pre_normalize(x, np.array([8, 5]))
    >>> shoulders = y[:, :, 0, 8, 0] - y[:, :, 0, 4, 0]
    >>> bool(np.allclose(shoulders[:, 1:], 0, atol=1e-5) and (shoulders[:, 0] > 0).all())
    True
"""

from __future__ import annotations

import numpy as np

# (from, to): the vector joint[to] - joint[from] is aligned with the target axis
Z_BONE = (0, 1)  # spine base -> spine mid, onto +z
X_BONE = (4, 8)  # joint 8 - joint 4 (right minus left shoulder, as the reference code), onto +x
CENTER_JOINT = 1  # spine mid


def pad_null_frames(x: np.ndarray, num_frames: np.ndarray | None = None) -> np.ndarray:
    """Step 1 on (N, M, T, V, C) data; returns a new array."""
    n, m, t, _, _ = x.shape
    present = (x != 0).any(axis=(3, 4))  # (N, M, T)
    if num_frames is not None:
        present &= np.arange(t)[None, None, :] < np.asarray(num_frames)[:, None, None]
    frames = np.arange(t)
    # bodies whose frame 0 is empty get their present frames moved to the front
    compact = ~present[..., 0]
    front_first = np.argsort(~present, axis=-1, kind="stable")
    order = np.where(compact[..., None], front_first, frames)
    count = present.sum(-1)
    last_plus_one = t - np.argmax(present[..., ::-1], axis=-1)
    length = np.where(compact, count, last_plus_one)
    length = np.where(count == 0, 0, length)
    safe_length = np.maximum(length, 1)[..., None]
    source = np.take_along_axis(order, frames % safe_length, axis=-1)  # (N, M, T)
    out = np.take_along_axis(x, source[..., None, None], axis=2)
    return out * (length > 0)[..., None, None, None]


def rotation_to(vectors: np.ndarray, target) -> np.ndarray:
    """(N, 3) vectors -> (N, 3, 3) rotations R with R v parallel to +target (Rodrigues)."""
    target = np.asarray(target, dtype=np.float64)
    v = vectors.astype(np.float64)
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    unit = np.divide(v, norm, out=np.zeros_like(v), where=norm > 1e-12)
    axis = np.cross(unit, target)
    sin = np.linalg.norm(axis, axis=-1)
    cos = unit @ target
    # opposite vectors: any axis perpendicular to the target works
    perpendicular = np.cross(target, [1.0, 0.0, 0.0] if abs(target[0]) < 0.9 else [0.0, 1.0, 0.0])
    opposite = (sin < 1e-9) & (cos < 0)
    axis = np.where(opposite[:, None], perpendicular, axis)
    axis_norm = np.linalg.norm(axis, axis=-1, keepdims=True)
    k = np.divide(axis, axis_norm, out=np.zeros_like(axis), where=axis_norm > 1e-12)
    angle = np.where(norm[:, 0] > 1e-12, np.arctan2(sin, cos), 0.0)
    angle = np.where(opposite, np.pi, angle)
    cross = np.zeros((len(v), 3, 3))
    cross[:, 0, 1], cross[:, 0, 2], cross[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    cross = cross - cross.transpose(0, 2, 1)
    s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    return np.eye(3) + s * cross + (1 - c) * (cross @ cross)


def align_bone(s: np.ndarray, bone: tuple[int, int], target) -> np.ndarray:
    """Rotate each sample of (N, M, T, V, C) data so body 1's frame-0 `bone` is along `target`."""
    rotation = rotation_to(s[:, 0, 0, bone[1]] - s[:, 0, 0, bone[0]], target)
    points = s.reshape(len(s), -1, 3)
    # row vectors: p' = p R^T; one batched matmul is far faster than einsum here
    return np.matmul(points, rotation.transpose(0, 2, 1)).reshape(s.shape)


def pre_normalize(data: np.ndarray, num_frames: np.ndarray | None = None, *,
                  center_joint: int = CENTER_JOINT, z_bone=Z_BONE, x_bone=X_BONE) -> np.ndarray:
    """(N, 3, T, V, M) -> pre-normalised float32 copy (module docstring has the steps)."""
    if data.ndim != 5 or data.shape[1] != 3:
        raise ValueError(f"expected (N, 3, T, V, M) data, got shape {data.shape}")
    s = pad_null_frames(np.asarray(data, dtype=np.float64).transpose(0, 4, 2, 3, 1), num_frames)
    # s: (N, M, T, V, C)
    present_joint = (s != 0).any(axis=-1, keepdims=True)
    center = s[:, :1, :, center_joint:center_joint + 1, :]
    s = (s - center) * present_joint
    s = align_bone(s, z_bone, (0.0, 0.0, 1.0))
    s = align_bone(s, x_bone, (1.0, 0.0, 0.0))
    return s.transpose(0, 4, 2, 3, 1).astype(np.float32)
