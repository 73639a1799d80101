"""Skeleton layouts: joint names, bones, left/right pairs.

All indices here are 0-based. The 1-based tables of the datasets (docs/methods.md, Joint orders) are converted
once, below, so nothing else in the code base needs to think about the off-by-one.

Example:
    >>> layout = get_layout("ntu25")
    >>> layout.num_joints, len(layout.bones)
    (25, 25)
    >>> layout.joint_names[layout.center]
    'spine_mid'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SkeletonLayout:
    name: str
    joint_names: tuple[str, ...]
    # bone[v] = joint[v] - joint[parent]; one entry per joint so bone data keeps V joints.
    bones: tuple[tuple[int, int], ...]
    # joints swapped by a left/right flip
    left_right: tuple[tuple[int, int], ...]
    # joint subtracted by centring (spine mid on NTU, spine on Kinect v1)
    center: int
    # joint the graph networks (ST-GCN, CTR-GCN) use as the root of spatial partitioning
    graph_center: int
    # pre-normalisation axes: spine[0] -> spine[1] is turned onto +z, then the shoulder line
    # shoulders[0] (right) - shoulders[1] (left) onto +x (2s-AGCN's joints on NTU)
    spine: tuple[int, int] = (0, 1)
    shoulders: tuple[int, int] = (8, 4)

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """Undirected skeleton edges (bones without the self-loop)."""
        return tuple((a, b) for a, b in self.bones if a != b)

    def flip_permutation(self) -> list[int]:
        perm = list(range(self.num_joints))
        for a, b in self.left_right:
            perm[a], perm[b] = b, a
        return perm


def _zero_based(pairs: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    return tuple((a - 1, b - 1) for a, b in pairs)


NTU25 = SkeletonLayout(
    name="ntu25",
    joint_names=(
        "spine_base", "spine_mid", "neck", "head",
        "left_shoulder", "left_elbow", "left_wrist", "left_hand",
        "right_shoulder", "right_elbow", "right_wrist", "right_hand",
        "left_hip", "left_knee", "left_ankle", "left_foot",
        "right_hip", "right_knee", "right_ankle", "right_foot",
        "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb",
    ),
    bones=_zero_based([
        (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21),
        (10, 9), (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1),
        (18, 17), (19, 18), (20, 19), (21, 21), (22, 23), (23, 8), (24, 25), (25, 12),
    ]),
    left_right=_zero_based([
        (5, 9), (6, 10), (7, 11), (8, 12), (13, 17), (14, 18), (15, 19), (16, 20),
        (22, 24), (23, 25),
    ]),
    center=1,
    graph_center=20,
    spine=(0, 1),
    shoulders=(8, 4),
)

# Kinect v1 skeletons come in three joint orders; each dataset's is its own layout.
# The Kinect SDK order (NW-UCLA, and the order most Kinect v1 sets use)
UCLA20 = SkeletonLayout(
    name="ucla20",
    joint_names=(
        "hip_center", "spine", "shoulder_center", "head",
        "left_shoulder", "left_elbow", "left_wrist", "left_hand",
        "right_shoulder", "right_elbow", "right_wrist", "right_hand",
        "left_hip", "left_knee", "left_ankle", "left_foot",
        "right_hip", "right_knee", "right_ankle", "right_foot",
    ),
    bones=_zero_based([
        (1, 2), (2, 3), (3, 3), (4, 3), (5, 3), (6, 5), (7, 6), (8, 7), (9, 3), (10, 9),
        (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17),
        (19, 18), (20, 19),
    ]),
    left_right=_zero_based([
        (5, 9), (6, 10), (7, 11), (8, 12), (13, 17), (14, 18), (15, 19), (16, 20),
    ]),
    center=1,
    graph_center=2,
    spine=(0, 1),  # hip centre -> spine
    shoulders=(8, 4),
)

# UTD-MHAD: the Kinect SDK joints with the trunk listed head-first
UTD20 = SkeletonLayout(
    name="utd20",
    joint_names=(
        "head", "shoulder_center", "spine", "hip_center",
        "left_shoulder", "left_elbow", "left_wrist", "left_hand",
        "right_shoulder", "right_elbow", "right_wrist", "right_hand",
        "left_hip", "left_knee", "left_ankle", "left_foot",
        "right_hip", "right_knee", "right_ankle", "right_foot",
    ),
    bones=_zero_based([
        (1, 2), (2, 2), (3, 2), (4, 3), (5, 2), (6, 5), (7, 6), (8, 7), (9, 2), (10, 9),
        (11, 10), (12, 11), (13, 4), (14, 13), (15, 14), (16, 15), (17, 4), (18, 17),
        (19, 18), (20, 19),
    ]),
    left_right=_zero_based([
        (5, 9), (6, 10), (7, 11), (8, 12), (13, 17), (14, 18), (15, 19), (16, 20),
    ]),
    center=2,
    graph_center=1,
    spine=(3, 2),
    shoulders=(8, 4),
)

# MSR Action3D's own order (its README; the chains 7-5-14-16-18, 3-1-8-10-12 and 3-20
# keep constant bone lengths in the data, which tests/data/test_layouts.py checks)
MSR20 = SkeletonLayout(
    name="msr20",
    joint_names=(
        "right_shoulder", "left_shoulder", "neck", "spine", "right_hip", "left_hip",
        "hip_center", "right_elbow", "left_elbow", "right_wrist", "left_wrist",
        "right_hand", "left_hand", "right_knee", "left_knee", "right_ankle", "left_ankle",
        "right_foot", "left_foot", "head",
    ),
    bones=_zero_based([
        (1, 3), (2, 3), (3, 3), (4, 3), (5, 7), (6, 7), (7, 4), (8, 1), (9, 2), (10, 8),
        (11, 9), (12, 10), (13, 11), (14, 5), (15, 6), (16, 14), (17, 15), (18, 16),
        (19, 17), (20, 3),
    ]),
    left_right=_zero_based([
        (1, 2), (5, 6), (8, 9), (10, 11), (12, 13), (14, 15), (16, 17), (18, 19),
    ]),
    center=3,
    graph_center=2,
    spine=(6, 3),  # hip centre -> spine
    shoulders=(0, 1),
)

LAYOUTS = {layout.name: layout for layout in (NTU25, UCLA20, UTD20, MSR20)}


def get_layout(name: str) -> SkeletonLayout:
    try:
        return LAYOUTS[name]
    except KeyError:
        raise KeyError(f"unknown skeleton layout {name!r}; valid: {sorted(LAYOUTS)}") from None
