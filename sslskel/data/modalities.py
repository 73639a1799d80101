"""Input modalities derived from joint coordinates: joint, bone, motion.

All functions take arrays laid out as (..., C, T, V, M): one sample (C, T, V, M) or a
batch (N, C, T, V, M). They accept numpy arrays and torch tensors (any device) alike and
return the same kind, never modifying their input.

- bone[v] = joint[v] - joint[parent(v)] with the parents of `layout.bones` (docs/methods.md, Joint orders);
  the self-loop joint (spine_shoulder on NTU) gets a zero bone, so V is unchanged.
- motion[t] = x[t+1] - x[t]; the last frame is 0 (docs/methods.md, Modalities). Given `num_frames`, the
  last *valid* frame and the zero padding after it are 0 too, so the jump from the last
  real pose to the padding never shows up as motion.
- "joint_motion" stacks joints and motion on the channel axis (2C channels).
- "bone_motion" is the motion of the bone sequence (the fourth stream of 4s-AGCN style
  ensembles); not used by the papers' recipes, offered because it costs one line.

Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(3, 10, 25, 2)).astype(np.float32)
    >>> b = to_bone(x, "ntu25")
    >>> bool(np.all(b[:, :, 20] == 0))  # spine_shoulder is its own parent
    True
    >>> m = to_motion(x, num_frames=8)
    >>> bool(np.all(m[:, 7:] == 0)) and np.allclose(m[:, 0], x[:, 1] - x[:, 0])
    True
    >>> MODALITIES["bone"](x, "ntu25").shape
    (3, 10, 25, 2)
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .layouts import SkeletonLayout, get_layout

# (..., C, T, V, M): axis positions counted from the end, so a batch dimension is free.
_T_AXIS, _V_AXIS = -3, -2


def _resolve_layout(layout: str | SkeletonLayout) -> SkeletonLayout:
    return get_layout(layout) if isinstance(layout, str) else layout


def bone_parents(layout: str | SkeletonLayout) -> list[int]:
    """parents[v] = the joint that bone v starts from (layout.bones has one bone per joint)."""
    layout = _resolve_layout(layout)
    parents = [-1] * layout.num_joints
    for child, parent in layout.bones:
        parents[child] = parent
    if -1 in parents:
        missing = [v for v, p in enumerate(parents) if p == -1]
        raise ValueError(f"layout {layout.name!r}: joints {missing} have no bone")
    return parents


def _check_layout_fits(x, layout: SkeletonLayout) -> None:
    if x.ndim < 4 or x.shape[_V_AXIS] != layout.num_joints:
        raise ValueError(
            f"expected an array (..., C, T, V={layout.num_joints}, M) for layout "
            f"{layout.name!r}, got shape {tuple(x.shape)}"
        )


def to_bone(x, layout: str | SkeletonLayout = "ntu25", num_frames=None):
    """Bone vectors joint[v] - joint[parent(v)] of (..., C, T, V, M) numpy or torch data.

    `num_frames` is accepted (and unused) so every entry of MODALITIES has one signature:
    zero padding stays zero because 0 - 0 = 0.
    """
    layout = _resolve_layout(layout)
    _check_layout_fits(x, layout)
    return x - x[..., bone_parents(layout), :]


def _valid_motion_mask(num_frames, num_steps: int, like):
    """Boolean (..., 1, T, 1, 1) mask of frames t < num_frames - 1, numpy or torch like `like`."""
    if torch.is_tensor(like):
        lengths = torch.as_tensor(num_frames, device=like.device)
        frames = torch.arange(num_steps, device=like.device)
    else:
        lengths = np.asarray(num_frames)
        frames = np.arange(num_steps)
    mask = frames < (lengths[..., None] - 1)
    return mask[..., None, :, None, None]


def to_motion(x, num_frames=None):
    """Temporal difference x[t+1] - x[t] of (..., C, T, V, M) numpy or torch data.

    num_frames: None, an int, or one length per leading sample (shape x.shape[:-4]).
    The last frame is 0, and with num_frames also every frame t >= num_frames - 1.
    """
    if x.ndim < 4:
        raise ValueError(f"expected an array (..., C, T, V, M), got shape {tuple(x.shape)}")
    motion = torch.zeros_like(x) if torch.is_tensor(x) else np.zeros_like(x)
    motion[..., :-1, :, :] = x[..., 1:, :, :] - x[..., :-1, :, :]
    if num_frames is not None:
        mask = _valid_motion_mask(num_frames, x.shape[_T_AXIS], x)
        motion = motion * mask
    return motion


def to_joint(x, layout: str | SkeletonLayout = "ntu25", num_frames=None):
    """The joint stream itself (a copy, so callers may write into it)."""
    return x.clone() if torch.is_tensor(x) else x.copy()


def to_bone_motion(x, layout: str | SkeletonLayout = "ntu25", num_frames=None):
    """Motion of the bone sequence."""
    return to_motion(to_bone(x, layout), num_frames)


def to_joint_motion(x, layout: str | SkeletonLayout = "ntu25", num_frames=None):
    """Joints and their motion stacked on the channel axis: (..., 2C, T, V, M).

    One encoder sees position and velocity together (a single-stream alternative to
    two-stream ensembles); not in the papers, offered for small datasets.
    """
    motion = to_motion(x, num_frames)
    if torch.is_tensor(x):
        return torch.cat([x, motion], dim=-4)
    return np.concatenate([x, motion], axis=-4)


def _motion(x, layout: str | SkeletonLayout = "ntu25", num_frames=None):
    return to_motion(x, num_frames)


# name -> fn(x, layout, num_frames=None); one signature so callers need no special case.
MODALITIES: dict[str, Callable] = {
    "joint": to_joint,
    "bone": to_bone,
    "motion": _motion,
    "bone_motion": to_bone_motion,
    "joint_motion": to_joint_motion,
}
# channels of a modality per input coordinate channel (1 unless streams are stacked)
CHANNEL_FACTOR = {"joint_motion": 2}


def modality_channels(name: str, in_channels: int) -> int:
    """Channels the encoder sees for `name` computed from `in_channels` coordinates."""
    return in_channels * CHANNEL_FACTOR.get(name, 1)


def to_modality(x, name: str, layout: str | SkeletonLayout = "ntu25", num_frames=None):
    """MODALITIES[name](x, layout, num_frames) with a clear error for an unknown name."""
    try:
        fn = MODALITIES[name]
    except KeyError:
        raise KeyError(f"unknown modality {name!r}; valid: {sorted(MODALITIES)}") from None
    return fn(x, layout, num_frames)
