import numpy as np
import pytest

from sslskel.data.agcn_preprocess import pad_null_frames, pre_normalize, rotation_to


def reference_pad(s):
    """The 2s-AGCN padding loop on (N, M, T, V, C), written plainly."""
    s = s.copy()
    for i in range(len(s)):
        for p in range(s.shape[1]):
            person = s[i, p]
            if not person.any():
                continue
            if not person[0].any():
                keep = [f for f in range(len(person)) if person[f].any()]
                tmp = person[keep].copy()
                person[:] = 0
                person[:len(tmp)] = tmp
            for f in range(len(person)):
                if not person[f].any() and not person[f:].any():
                    rest = len(person) - f
                    reps = int(np.ceil(rest / f))
                    person[f:] = np.concatenate([person[:f]] * reps)[:rest]
                    break
    return s


def reference_rotation(v, target):
    """Rodrigues' formula for one vector, with the same conventions as the reference code."""
    v = v / np.linalg.norm(v)
    axis = np.cross(v, target)
    angle = np.arccos(np.clip(v @ target, -1, 1))
    if np.linalg.norm(axis) < 1e-12:
        return np.eye(3)
    k = axis / np.linalg.norm(axis)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def reference_pre_normalize(data):
    s = reference_pad(data.astype(np.float64).transpose(0, 4, 2, 3, 1))
    for i in range(len(s)):
        center = s[i, 0, :, 1:2].copy()
        for p in range(s.shape[1]):
            mask = (s[i, p] != 0).any(-1, keepdims=True)
            s[i, p] = (s[i, p] - center) * mask
        for a, b, target in ((0, 1, [0, 0, 1.0]), (4, 8, [1.0, 0, 0])):
            rot = reference_rotation(s[i, 0, 0, b] - s[i, 0, 0, a], np.array(target))
            for p in range(s.shape[1]):
                for t in range(s.shape[2]):
                    for v in range(s.shape[3]):
                        s[i, p, t, v] = rot @ s[i, p, t, v]
    return s.transpose(0, 4, 2, 3, 1)


def _data_with_gaps(rng, n=4, t=12):
    x = rng.normal(size=(n, 3, t, 25, 2)).astype(np.float32)
    x[0, :, 7:] = 0                 # trailing empty frames
    x[1, :, :3, :, 0] = 0           # leading empty frames of body 1
    x[1, :, 5, :, 0] = 0            # and an inner one
    x[2, :, :, :, 1] = 0            # body 2 absent
    x[3, :, 4, :, 1] = 0            # body 2: inner gap only, no trailing gap
    x[3, :, 9:, :, 1] = 0
    return x


def test_padding_matches_the_reference_loop(rng):
    x = _data_with_gaps(rng).transpose(0, 4, 2, 3, 1)
    np.testing.assert_array_equal(pad_null_frames(x), reference_pad(x))


def test_padding_tiles_the_valid_part():
    x = np.zeros((1, 1, 7, 1, 1), np.float32)
    x[0, 0, 2:4, 0, 0] = [1, 2]  # leading empty frames are removed, then [1, 2] tiled
    assert pad_null_frames(x)[0, 0, :, 0, 0].tolist() == [1, 2, 1, 2, 1, 2, 1]


def test_num_frames_marks_the_rest_as_empty(rng):
    x = rng.normal(size=(1, 1, 6, 2, 3)).astype(np.float32)
    out = pad_null_frames(x, np.array([2]))
    np.testing.assert_array_equal(out[0, 0, 2:4], x[0, 0, :2])


def test_full_pipeline_matches_the_reference(rng):
    x = _data_with_gaps(rng)
    np.testing.assert_allclose(pre_normalize(x), reference_pre_normalize(x), atol=1e-5)


def test_bones_end_on_the_axes_and_keep_their_lengths(rng):
    x = _data_with_gaps(rng, n=6)
    # a shoulder line perpendicular to the spine: then both alignments hold at the end
    x[:, :, 0, 0, 0] = [0, 0, 0]
    x[:, :, 0, 1, 0] = [0.1, 0.5, 0.2]
    x[:, :, 0, 8, 0] = x[:, :, 0, 1, 0] + np.cross([0.1, 0.5, 0.2], [1.0, 0.0, 0.3])
    x[:, :, 0, 4, 0] = x[:, :, 0, 1, 0]
    x[:, :, 0, 0, 0] = [1e-3, 0, 0]
    y = pre_normalize(x)
    spine = y[:, :, 0, 1, 0] - y[:, :, 0, 0, 0]
    shoulders = y[:, :, 0, 8, 0] - y[:, :, 0, 4, 0]
    spine_unit = spine / np.linalg.norm(spine, axis=1, keepdims=True)
    np.testing.assert_allclose(spine_unit[:, :2], 0, atol=1e-3)  # the tiny 1e-3 offset tilts it
    np.testing.assert_allclose(shoulders[:, 1:], 0, atol=1e-5)
    assert (shoulders[:, 0] > 0).all()
    padded = pad_null_frames(x.transpose(0, 4, 2, 3, 1)).transpose(0, 4, 2, 3, 1)
    for a, b in ((0, 1), (4, 8), (5, 6), (12, 13)):
        before = np.linalg.norm(padded[:, :, :, a, 0] - padded[:, :, :, b, 0], axis=1)
        after = np.linalg.norm(y[:, :, :, a, 0] - y[:, :, :, b, 0], axis=1)
        np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-5)


def test_z_step_alone_puts_the_spine_on_z(rng):
    v = rng.normal(size=(50, 3))
    v[0] = [0, 0, -2.0]  # opposite the target
    v[1] = [0, 0, 3.0]   # already aligned
    rotated = np.einsum("nij,nj->ni", rotation_to(v, (0, 0, 1.0)), v)
    np.testing.assert_allclose(rotated[:, :2], 0, atol=1e-9)
    np.testing.assert_allclose(rotated[:, 2], np.linalg.norm(v, axis=1), rtol=1e-9)
    rotations = rotation_to(v, (0, 0, 1.0))
    np.testing.assert_allclose(rotations @ rotations.transpose(0, 2, 1), np.broadcast_to(np.eye(3), (50, 3, 3)),
                               atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rotations), 1.0)


def test_empty_sample_stays_zero_and_shape_is_checked(rng):
    x = np.zeros((2, 3, 5, 25, 2), np.float32)
    x[1] = rng.normal(size=(3, 5, 25, 2))
    y = pre_normalize(x)
    assert not y[0].any() and np.isfinite(y).all() and y.dtype == np.float32
    with pytest.raises(ValueError, match="N, 3, T, V, M"):
        pre_normalize(np.zeros((2, 5, 25, 2)))
