"""A jointed NTU-25 body: rest pose, per-subject bone lengths and vectorised forward kinematics.

The synthetic dataset (`sslskel.data.synthetic`) moves this body by joint angles; joint
positions always come out of forward kinematics, so every bone keeps its length in every
frame and the motion of one joint drags its children along, as on a real person.

Frames. The body frame is x = the body's left, y = up, z = forward (right-handed). Each
joint v owns the rotation of the bone that ends at v (parent(v) -> v), expressed in the
parent bone's frame; the bone's rest offset is rotated by the accumulated rotation:

    G[v] = G[parent(v)] @ R_local[v],     p[v] = p[parent(v)] + G[v] @ offset[v],

with G[root] = R_root and p[root] = root position. So `angles[:, :, LEFT_ELBOW]` is the left
shoulder joint (it swings the upper arm, whose bone ends at the elbow), `angles[..., LEFT_WRIST]`
is the elbow, `angles[..., LEFT_KNEE]` the hip, `angles[..., LEFT_ANKLE]` the knee.
Local rotations are Euler angles (ax, ay, az), R = Ry(ay) @ Rz(az) @ Rx(ax):
- arms / legs hang along -y at rest; ax < 0 swings the limb forward (shoulder or hip
  flexion), ax > 0 backward (knee flexion bends the shin backwards);
- az > 0 lifts a left limb sideways (abduction), az < 0 a right one;
- ay turns the limb about the vertical axis (horizontal ab/adduction of a raised arm);
- on the spine bones ax > 0 bends forward, ay twists the torso.

The kinematic tree is the NTU one except the hand tip and thumb, which both hang from the
hand (NTU's bone table chains hand tip -> thumb -> hand); both are rigid in the hand's frame,
so the NTU bone hand tip - thumb also keeps its length (their angles are ignored).

Example:
    >>> import numpy as np
    >>> bones = sample_bone_offsets(np.random.default_rng(0), 2)
    >>> angles = np.zeros((2, 5, 25, 3)); angles[:, :, LEFT_ELBOW, 0] = -np.pi / 2
    >>> p = forward_kinematics(bones, angles, np.zeros((2, 5, 3)), np.zeros((2, 5)))
    >>> p.shape                                  # (bodies, frames, joints, xyz)
    (2, 5, 25, 3)
    >>> bool(np.all(p[:, :, LEFT_WRIST, 2] > p[:, :, LEFT_SHOULDER, 2]))  # arm points forward
    True
"""

from __future__ import annotations

import numpy as np

from .layouts import NTU25

# 0-based NTU-25 joint indices
SPINE_BASE, SPINE_MID, NECK, HEAD = 0, 1, 2, 3
LEFT_SHOULDER, LEFT_ELBOW, LEFT_WRIST, LEFT_HAND = 4, 5, 6, 7
RIGHT_SHOULDER, RIGHT_ELBOW, RIGHT_WRIST, RIGHT_HAND = 8, 9, 10, 11
LEFT_HIP, LEFT_KNEE, LEFT_ANKLE, LEFT_FOOT = 12, 13, 14, 15
RIGHT_HIP, RIGHT_KNEE, RIGHT_ANKLE, RIGHT_FOOT = 16, 17, 18, 19
SPINE_SHOULDER, LEFT_HAND_TIP, LEFT_THUMB, RIGHT_HAND_TIP, RIGHT_THUMB = 20, 21, 22, 23, 24
NUM_JOINTS = NTU25.num_joints

# parent of each joint in the kinematic tree (root: -1)
PARENTS = np.array([
    -1, SPINE_BASE, SPINE_SHOULDER, NECK,
    SPINE_SHOULDER, LEFT_SHOULDER, LEFT_ELBOW, LEFT_WRIST,
    SPINE_SHOULDER, RIGHT_SHOULDER, RIGHT_ELBOW, RIGHT_WRIST,
    SPINE_BASE, LEFT_HIP, LEFT_KNEE, LEFT_ANKLE,
    SPINE_BASE, RIGHT_HIP, RIGHT_KNEE, RIGHT_ANKLE,
    SPINE_MID, LEFT_HAND, LEFT_HAND, RIGHT_HAND, RIGHT_HAND,
])


def _topological_order(parents: np.ndarray) -> list[int]:
    order, placed = [], set()
    while len(order) < len(parents):
        for v, p in enumerate(parents):
            if v not in placed and (p < 0 or p in placed):
                order.append(v)
                placed.add(v)
    return order


FK_ORDER = _topological_order(PARENTS)
# fingers have no joint of their own: their angles are ignored, so hand tip - thumb is rigid
RIGID = (LEFT_HAND_TIP, LEFT_THUMB, RIGHT_HAND_TIP, RIGHT_THUMB)

# rest offsets (metres, body frame) of a 1.75 m adult; offset[v] = p[v] - p[parent(v)]
REST_OFFSETS = np.array([
    [0.0, 0.0, 0.0],        # spine base (root)
    [0.0, 0.24, -0.01],     # spine mid
    [0.0, 0.07, 0.0],       # neck
    [0.0, 0.15, 0.02],      # head
    [0.17, -0.03, -0.01],   # left shoulder
    [0.0, -0.28, 0.0],      # left elbow  (upper arm)
    [0.0, -0.25, 0.0],      # left wrist  (forearm)
    [0.0, -0.07, 0.0],      # left hand
    [-0.17, -0.03, -0.01],  # right shoulder
    [0.0, -0.28, 0.0],      # right elbow
    [0.0, -0.25, 0.0],      # right wrist
    [0.0, -0.07, 0.0],      # right hand
    [0.09, -0.05, 0.0],     # left hip
    [0.0, -0.42, 0.0],      # left knee   (thigh)
    [0.0, -0.40, 0.0],      # left ankle  (shin)
    [0.0, -0.06, 0.12],     # left foot
    [-0.09, -0.05, 0.0],    # right hip
    [0.0, -0.42, 0.0],      # right knee
    [0.0, -0.40, 0.0],      # right ankle
    [0.0, -0.06, 0.12],     # right foot
    [0.0, 0.25, 0.0],       # spine shoulder
    [0.0, -0.08, 0.01],     # left hand tip
    [-0.02, -0.03, 0.04],   # left thumb (points forward, inward)
    [0.0, -0.08, 0.01],     # right hand tip
    [0.02, -0.03, 0.04],    # right thumb
])

# which body-part proportion scales each bone: 0 torso, 1 arms, 2 legs, 3 shoulder/hip width
_SEGMENT = np.array([0, 0, 0, 0, 3, 1, 1, 1, 3, 1, 1, 1, 3, 2, 2, 2, 3, 2, 2, 2, 0, 1, 1, 1, 1])


def sample_bone_offsets(rng: np.random.Generator, num_bodies: int, *,
                        height_range=(0.88, 1.10), proportion_std: float = 0.04) -> np.ndarray:
    """Per-body rest offsets (num_bodies, 25, 3): an overall size and per-segment proportions."""
    size = rng.uniform(*height_range, size=(num_bodies, 1, 1))
    proportions = 1.0 + proportion_std * rng.standard_normal((num_bodies, 4)).clip(-2.5, 2.5)
    return REST_OFFSETS[None] * size * proportions[:, _SEGMENT, None]


def rotation_x(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([o, z, z, z, c, -s, z, s, c], -1).reshape(*a.shape, 3, 3)


def rotation_y(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([c, z, s, z, o, z, -s, z, c], -1).reshape(*a.shape, 3, 3)


def rotation_z(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(*a.shape, 3, 3)


def euler_to_matrix(angles: np.ndarray) -> np.ndarray:
    """(..., 3) angles (ax, ay, az) -> (..., 3, 3) rotations Ry(ay) @ Rz(az) @ Rx(ax)."""
    return rotation_y(angles[..., 1]) @ rotation_z(angles[..., 2]) @ rotation_x(angles[..., 0])


def forward_kinematics(offsets: np.ndarray, angles: np.ndarray, root_position: np.ndarray,
                       root_yaw: np.ndarray) -> np.ndarray:
    """Joint positions (B, T, 25, 3) of bodies posed by local Euler angles.

    offsets (B, 25, 3) rest bone offsets; angles (B, T, 25, 3) local rotations (the root's
    entry tilts the whole body); root_position (B, T, 3) and root_yaw (B, T) place the root
    (rotation about the vertical axis) in the world frame.
    """
    local = euler_to_matrix(angles)  # (B, T, 25, 3, 3)
    b, t = angles.shape[:2]
    glob = np.empty_like(local)
    pos = np.empty((b, t, NUM_JOINTS, 3))
    for v in FK_ORDER:  # 25 joints in tree order; samples and frames are vectorised
        p = PARENTS[v]
        if p < 0:
            glob[:, :, v] = rotation_y(root_yaw) @ local[:, :, v]
            pos[:, :, v] = root_position
        elif v in RIGID:
            glob[:, :, v] = glob[:, :, p]
            pos[:, :, v] = pos[:, :, p] + np.einsum("btij,bj->bti", glob[:, :, v], offsets[:, v])
        else:
            glob[:, :, v] = glob[:, :, p] @ local[:, :, v]
            pos[:, :, v] = pos[:, :, p] + np.einsum("btij,bj->bti", glob[:, :, v], offsets[:, v])
    return pos


def bone_lengths(positions: np.ndarray) -> np.ndarray:
    """(..., 25, 3) joints -> (..., 25) lengths |p[v] - p[parent(v)]| (root: 0)."""
    parents = np.where(PARENTS < 0, np.arange(NUM_JOINTS), PARENTS)
    return np.linalg.norm(positions - positions[..., parents, :], axis=-1)
