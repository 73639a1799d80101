import numpy as np
import pytest

from sslskel.data import kinematics as K
from sslskel.data.layouts import NTU25


def reference_rotation(ax, ay, az):
    """Ry(ay) @ Rz(az) @ Rx(ax) written out by hand."""
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return ry @ rz @ rx


def reference_fk(offsets, angles, root, yaw):
    """One body, one frame, recursive over the tree with plain Python."""
    positions, rotations = {}, {}

    def place(v):
        if v in positions:
            return
        local = np.eye(3) if v in K.RIGID else reference_rotation(*angles[v])
        p = K.PARENTS[v]
        if p < 0:
            rotations[v] = reference_rotation(0, yaw, 0) @ local
            positions[v] = np.asarray(root, float)
            return
        place(p)
        rotations[v] = rotations[p] @ local
        positions[v] = positions[p] + rotations[v] @ offsets[v]

    for v in range(K.NUM_JOINTS):
        place(v)
    return np.stack([positions[v] for v in range(K.NUM_JOINTS)])


def test_euler_matches_hand_written_rotation():
    rng = np.random.default_rng(0)
    angles = rng.uniform(-3, 3, (7, 3))
    got = K.euler_to_matrix(angles)
    for a, r in zip(angles, got):
        np.testing.assert_allclose(r, reference_rotation(*a), atol=1e-12)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0)


def test_forward_kinematics_matches_reference():
    rng = np.random.default_rng(1)
    offsets = K.sample_bone_offsets(rng, 2)
    angles = rng.uniform(-1, 1, (2, 3, K.NUM_JOINTS, 3))
    root = rng.normal(size=(2, 3, 3))
    yaw = rng.uniform(-3, 3, (2, 3))
    got = K.forward_kinematics(offsets, angles, root, yaw)
    assert got.shape == (2, 3, K.NUM_JOINTS, 3)
    for b in range(2):
        for t in range(3):
            expected = reference_fk(offsets[b], angles[b, t], root[b, t], yaw[b, t])
            np.testing.assert_allclose(got[b, t], expected, atol=1e-12)


def test_rest_pose_is_sum_of_offsets_and_upright():
    offsets = K.REST_OFFSETS[None]
    p = K.forward_kinematics(offsets, np.zeros((1, 1, 25, 3)), np.zeros((1, 1, 3)), np.zeros((1, 1)))[0, 0]
    np.testing.assert_allclose(p[K.HEAD], offsets[0, [1, 20, 2, 3]].sum(0))
    assert p[K.HEAD, 1] > p[K.SPINE_MID, 1] > p[K.LEFT_KNEE, 1] > p[K.LEFT_FOOT, 1]
    assert p[K.LEFT_SHOULDER, 0] > 0 > p[K.RIGHT_SHOULDER, 0]  # body frame: x = left
    assert p[K.LEFT_FOOT, 2] > p[K.LEFT_ANKLE, 2]  # feet point forward (+z)


def test_bone_lengths_constant_under_any_motion():
    rng = np.random.default_rng(2)
    offsets = K.sample_bone_offsets(rng, 3)
    angles = rng.uniform(-2, 2, (3, 10, K.NUM_JOINTS, 3))
    p = K.forward_kinematics(offsets, angles, rng.normal(size=(3, 10, 3)), rng.uniform(-3, 3, (3, 10)))
    for v, u in NTU25.bones:  # the NTU bone table, including hand tip -> thumb
        length = np.linalg.norm(p[:, :, v] - p[:, :, u], axis=-1)
        np.testing.assert_allclose(length, length[:, :1].repeat(10, 1), atol=1e-12)
    np.testing.assert_allclose(K.bone_lengths(p)[:, 0], np.linalg.norm(offsets, axis=-1), atol=1e-12)


def test_angle_conventions():
    offsets = K.REST_OFFSETS[None]
    angles = np.zeros((1, 1, 25, 3))
    angles[0, 0, K.LEFT_ELBOW, 0] = -np.pi / 2  # left shoulder flexion: arm forward
    angles[0, 0, K.RIGHT_ELBOW, 2] = -np.pi / 2  # right shoulder abduction: arm sideways
    angles[0, 0, K.LEFT_ANKLE, 0] = np.pi / 2  # left knee flexion: shin backward
    p = K.forward_kinematics(offsets, angles, np.zeros((1, 1, 3)), np.zeros((1, 1)))[0, 0]
    np.testing.assert_allclose(p[K.LEFT_WRIST] - p[K.LEFT_ELBOW], [0, 0, 0.25], atol=1e-12)
    np.testing.assert_allclose(p[K.RIGHT_WRIST] - p[K.RIGHT_ELBOW], [-0.25, 0, 0], atol=1e-12)
    np.testing.assert_allclose(p[K.LEFT_ANKLE] - p[K.LEFT_KNEE], [0, 0, -0.40], atol=1e-12)


def test_sample_bone_offsets_vary_per_body_and_are_deterministic():
    a = K.sample_bone_offsets(np.random.default_rng(3), 4)
    b = K.sample_bone_offsets(np.random.default_rng(3), 4)
    np.testing.assert_array_equal(a, b)
    heights = np.linalg.norm(a, axis=-1).sum(-1)
    assert len(np.unique(np.round(heights, 6))) == 4
    np.testing.assert_array_equal(a[:, 0], 0.0)
