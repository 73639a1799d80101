"""Tests for sslskel.data.modalities against loops over the 1-based bone table of
docs/methods.md ("Joint orders"), on numpy and torch inputs."""

import numpy as np
import pytest
import torch

from sslskel.data.layouts import NTU25, UCLA20
from sslskel.data.modalities import (
    MODALITIES,
    bone_parents,
    modality_channels,
    to_bone,
    to_bone_motion,
    to_modality,
    to_motion,
)

# docs/methods.md, Joint orders, 1-based (v1, v2): bone[v1] = joint[v1] - joint[v2]; typed in again on
# purpose so a mistake in layouts.py's table would show up here.
NTU_BONES_1BASED = [
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
    (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
    (20, 19), (21, 21), (22, 23), (23, 8), (24, 25), (25, 12),
]


def sample(shape=(3, 12, 25, 2), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def loop_bone(x):
    out = np.zeros_like(x)
    for v1, v2 in NTU_BONES_1BASED:
        out[..., v1 - 1, :] = x[..., v1 - 1, :] - x[..., v2 - 1, :]
    return out


def loop_motion(x, n):
    out = np.zeros_like(x)
    for t in range(n - 1):
        out[:, t] = x[:, t + 1] - x[:, t]
    return out


def test_bone_matches_table_and_self_loop_is_zero():
    x = sample()
    b = to_bone(x, "ntu25")
    np.testing.assert_array_equal(b, loop_bone(x))
    assert np.all(b[:, :, 20] == 0)  # spine_shoulder (21 1-based) is its own parent
    assert b.shape == x.shape and b.dtype == np.float32


def test_bone_on_batch_and_torch_agree_with_numpy():
    x = sample((4, 3, 6, 25, 2))
    expected = np.stack([loop_bone(s) for s in x])
    np.testing.assert_array_equal(to_bone(x, NTU25), expected)
    t = to_bone(torch.from_numpy(x), "ntu25")
    assert torch.is_tensor(t)
    np.testing.assert_array_equal(t.numpy(), expected)


def test_bone_parents_cover_every_joint_and_ucla_root_is_zero():
    assert len(bone_parents(UCLA20)) == 20
    x = sample((3, 5, 20, 1))
    b = to_bone(x, "ucla20")
    assert np.all(b[:, :, 2] == 0)  # shoulder centre is UCLA20's self loop
    with pytest.raises(ValueError, match="V=25"):
        to_bone(x, "ntu25")


def test_bone_keeps_zero_padding_zero():
    x = sample((3, 12, 25, 2))
    x[:, 8:] = 0
    assert np.all(to_bone(x, "ntu25")[:, 8:] == 0)


def test_motion_matches_loop_and_last_frames_are_zero():
    x = sample()
    np.testing.assert_allclose(to_motion(x), loop_motion(x, 12))
    assert np.all(to_motion(x)[:, -1] == 0)
    x[:, 9:] = 0  # 9 valid frames, zero padded
    m = to_motion(x, num_frames=9)
    np.testing.assert_allclose(m, loop_motion(x, 9))
    assert np.all(m[:, 8:] == 0)  # last valid frame and padding


def test_motion_batch_lengths_numpy_and_torch():
    x = sample((3, 3, 10, 25, 2))
    lengths = np.array([10, 4, 1])
    expected = np.stack([loop_motion(s, n) for s, n in zip(x, lengths)])
    np.testing.assert_allclose(to_motion(x, lengths), expected)
    t = to_motion(torch.from_numpy(x), torch.from_numpy(lengths))
    assert torch.is_tensor(t) and t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), expected)


def test_inputs_not_modified_and_modalities_registry():
    x = sample()
    original = x.copy()
    for name in MODALITIES:
        out = to_modality(x, name, "ntu25", num_frames=12)
        channels = modality_channels(name, x.shape[0])
        assert out.shape == (channels, *x.shape[1:]) and not np.shares_memory(out, x)
    np.testing.assert_array_equal(x, original)
    np.testing.assert_allclose(to_modality(x, "bone_motion", "ntu25"),
                               to_motion(loop_bone(x)), atol=1e-6)
    np.testing.assert_allclose(to_bone_motion(x, "ntu25", 12), loop_motion(loop_bone(x), 12),
                               atol=1e-6)
    with pytest.raises(KeyError, match="bone"):
        to_modality(x, "acceleration")


def test_joint_motion_stacks_joints_and_loop_motion():
    x = sample()
    out = to_modality(x, "joint_motion", "ntu25", num_frames=12)
    assert modality_channels("joint_motion", 3) == 6 and modality_channels("bone", 3) == 3
    np.testing.assert_array_equal(out[:3], x)
    np.testing.assert_allclose(out[3:], loop_motion(x, 12), atol=1e-6)
    batch = torch.from_numpy(np.stack([x, x]))
    torch.testing.assert_close(to_modality(batch, "joint_motion", "ntu25", num_frames=torch.tensor([12, 12])),
                               torch.from_numpy(np.stack([out, out])))
