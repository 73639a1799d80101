"""Skeleton layouts: joint names, bones, left/right pairs.

All indices here are 0-based. The 1-based tables of METHODS.md 1.1 / 1.2 are converted
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
)

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
)

LAYOUTS = {layout.name: layout for layout in (NTU25, UCLA20)}


def get_layout(name: str) -> SkeletonLayout:
    try:
        return LAYOUTS[name]
    except KeyError:
        raise KeyError(f"unknown skeleton layout {name!r}; valid: {sorted(LAYOUTS)}") from None
