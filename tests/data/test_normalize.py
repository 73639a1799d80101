"""Normalisation while reading (sslskel.data.normalize, sslskel.data.build.apply_normalization)."""

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

from sslskel.data.build import load_data
from sslskel.data.container import SkeletonData
from sslskel.data.layouts import MSR20, NTU25, UCLA20, UTD20, get_layout
from sslskel.data.normalize import body_frame, check_prenormalized, normalize_skeletons, resolve_mode
from sslskel.engine.config import load_config

ALL_LAYOUTS = [NTU25, UCLA20, UTD20, MSR20]
NUM_FRAMES = np.array([6, 4, 1, 5])
ZEROED = (0, 2)  # (sample, frame) where one joint of body 1 is lost


def _random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _lost_joint(layout):
    """A joint that is none of the special ones, to zero in one frame."""
    special = {layout.center, *layout.spine, *layout.shoulders}
    return next(j for j in range(layout.num_joints - 1, -1, -1) if j not in special)


def _skeletons(layout, seed=0):
    """(N, 3, T, V, M) random bodies, each sample rotated and moved far from the origin;
    zeros after num_frames, one lost joint, and (NTU) a second body absent in sample 1."""
    rng = np.random.default_rng(seed)
    m = 2 if layout.num_joints == 25 else 1
    n, t, v = len(NUM_FRAMES), 7, layout.num_joints
    x = rng.normal(scale=0.3, size=(n, 3, t, v, m))
    for i in range(n):
        rotation = _random_rotation(rng)
        x[i] = np.einsum("ij,jtvm->itvm", rotation, x[i]) + rng.uniform(-2, 2, size=(3, 1, 1, 1))
        x[i, :, NUM_FRAMES[i]:] = 0
    x[ZEROED[0], :, ZEROED[1], _lost_joint(layout), 0] = 0
    if m == 2:
        x[1, :, :, :, 1] = 0
    return x.astype(np.float32)


def _centred(x, layout):
    """By hand: every present joint minus body 1's centre joint of its frame."""
    centre = x[:, :, :, layout.center:layout.center + 1, :1]
    present = (x != 0).any(axis=1, keepdims=True)
    return (x - centre) * present


# -- prenorm ------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ALL_LAYOUTS, ids=lambda layout: layout.name)
def test_prenorm_centres_on_the_layouts_centre_joint(layout):
    x = _skeletons(layout)
    y = normalize_skeletons(x, NUM_FRAMES, layout, "prenorm")
    assert y.shape == x.shape and y.dtype == np.float32
    for i, nf in enumerate(NUM_FRAMES):
        np.testing.assert_allclose(y[i, :, :nf, layout.center, 0], 0, atol=1e-6)
        # the input was not centred: the test checks something
        assert np.abs(x[i, :, :nf, layout.center, 0]).max() > 0.05


@pytest.mark.parametrize("layout", ALL_LAYOUTS, ids=lambda layout: layout.name)
def test_prenorm_turns_spine_onto_z_and_shoulders_onto_x(layout):
    x = _skeletons(layout)
    y = normalize_skeletons(x, NUM_FRAMES, layout, "prenorm")
    spine = y[:, :, 0, layout.spine[1], 0] - y[:, :, 0, layout.spine[0], 0]
    np.testing.assert_allclose(spine[:, :2], 0, atol=1e-5)
    assert (spine[:, 2] > 0).all()
    shoulders = y[:, :, 0, layout.shoulders[0], 0] - y[:, :, 0, layout.shoulders[1], 0]
    np.testing.assert_allclose(shoulders[:, 1], 0, atol=1e-5)
    assert (shoulders[:, 0] > 0).all()
    # before: neither was aligned
    raw_spine = x[:, :, 0, layout.spine[1], 0] - x[:, :, 0, layout.spine[0], 0]
    assert np.abs(raw_spine[:, :2]).max() > 0.05


@pytest.mark.parametrize("layout", ALL_LAYOUTS, ids=lambda layout: layout.name)
def test_prenorm_is_a_rotation_of_the_centred_sample(layout):
    x = _skeletons(layout)
    y = normalize_skeletons(x, NUM_FRAMES, layout, "prenorm")
    c = _centred(x, layout)
    for i, nf in enumerate(NUM_FRAMES):
        p = c[i, :, :nf].reshape(3, -1).T.astype(np.float64)  # all joints, frames, bodies
        q = y[i, :, :nf].reshape(3, -1).T.astype(np.float64)
        a, *_ = np.linalg.lstsq(p, q, rcond=None)  # q = p @ a
        np.testing.assert_allclose(p @ a, q, atol=1e-5)
        np.testing.assert_allclose(a.T @ a, np.eye(3), atol=1e-5)
        assert np.linalg.det(a) == pytest.approx(1.0, abs=1e-5)  # no mirror


@pytest.mark.parametrize("layout", ALL_LAYOUTS, ids=lambda layout: layout.name)
def test_prenorm_keeps_bone_lengths(layout):
    x = _skeletons(layout)
    y = normalize_skeletons(x, NUM_FRAMES, layout, "prenorm")
    a, b = np.array(layout.edges).T
    for i, nf in enumerate(NUM_FRAMES):
        xi, yi = x[i, :, :nf].astype(np.float64), y[i, :, :nf].astype(np.float64)  # (3, T, V, M)
        present = (xi != 0).any(0)  # (T, V, M)
        both = present[:, a] & present[:, b]
        before = np.linalg.norm(xi[:, :, a] - xi[:, :, b], axis=0)
        after = np.linalg.norm(yi[:, :, a] - yi[:, :, b], axis=0)
        assert both.sum() > 0 and before[both].min() > 1e-3
        np.testing.assert_allclose(after[both], before[both], atol=1e-5)


@pytest.mark.parametrize("layout", ALL_LAYOUTS, ids=lambda layout: layout.name)
def test_prenorm_twice_changes_nothing(layout):
    x = _skeletons(layout)
    once = normalize_skeletons(x, NUM_FRAMES, layout, "prenorm")
    twice = normalize_skeletons(once, NUM_FRAMES, layout, "prenorm")
    assert not np.allclose(once, x, atol=1e-3)
    np.testing.assert_allclose(twice, once, atol=1e-5)


@pytest.mark.parametrize("layout", ALL_LAYOUTS, ids=lambda layout: layout.name)
def test_prenorm_keeps_absent_joints_and_bodies_zero(layout):
    x = _skeletons(layout)
    y = normalize_skeletons(x, NUM_FRAMES, layout, "prenorm")
    i, t = ZEROED
    assert (y[i, :, t, _lost_joint(layout), 0] == 0).all()
    assert (y[i, :, t, :, 0] != 0).any(0).sum() == layout.num_joints - 2  # the lost joint and the centre
    if x.shape[-1] == 2:
        assert (y[1, ..., 1] == 0).all()  # the absent second body
        assert (y[0, :, :NUM_FRAMES[0], :, 1] != 0).any()


@pytest.mark.parametrize("mode", ["prenorm", "center"])
def test_frames_after_num_frames_repeat_the_sequence(mode):
    x = _skeletons(NTU25)
    y = normalize_skeletons(x, NUM_FRAMES, NTU25, mode)
    for i, nf in enumerate(NUM_FRAMES):
        for t in range(nf, x.shape[2]):
            np.testing.assert_array_equal(y[i, :, t], y[i, :, t % nf])


def test_prenorm_matches_a_hand_built_frame():
    layout = MSR20
    rng = np.random.default_rng(5)
    x = (rng.normal(size=(1, 3, 3, 20, 1)) + 2.0).astype(np.float32)
    y = normalize_skeletons(x, np.array([3]), layout, "prenorm")
    c = _centred(x.astype(np.float64), layout)[0, :, :, :, 0]  # (3, T, V)
    z = c[:, 0, 6] - c[:, 0, 3]  # hip centre -> spine, the MSR joints 7 and 4
    z = -z / np.linalg.norm(z)  # spine[0] = hip centre, spine[1] = spine: spine - hip
    sh = c[:, 0, 0] - c[:, 0, 1]  # right minus left shoulder
    xa = sh - sh.dot(z) * z
    xa /= np.linalg.norm(xa)
    rotation = np.stack([xa, np.cross(z, xa), z])
    expected = np.einsum("ij,jtv->itv", rotation, c)
    np.testing.assert_allclose(y[0, :, :, :, 0], expected, atol=1e-5)


# -- center, none, errors ---------------------------------------------------------------------
@pytest.mark.parametrize("layout", ALL_LAYOUTS, ids=lambda layout: layout.name)
def test_center_mode_only_subtracts_the_centre(layout):
    x = _skeletons(layout)
    y = normalize_skeletons(x, NUM_FRAMES, layout, "center")
    expected = _centred(x.astype(np.float64), layout)
    for i, nf in enumerate(NUM_FRAMES):
        np.testing.assert_allclose(y[i, :, :nf], expected[i, :, :nf], atol=1e-5)


def test_none_returns_the_input():
    x = _skeletons(UCLA20)
    assert normalize_skeletons(x, NUM_FRAMES, UCLA20, "none") is x


def test_bad_arguments():
    x = _skeletons(UCLA20)
    with pytest.raises(ValueError, match="prenorm"):
        normalize_skeletons(x, NUM_FRAMES, UCLA20, "auto")  # resolved before, by resolve_mode
    with pytest.raises(ValueError, match="25 joints"):
        normalize_skeletons(x, NUM_FRAMES, NTU25, "prenorm")
    with pytest.raises(ValueError, match="shape"):
        normalize_skeletons(x[:, :2], NUM_FRAMES, UCLA20, "prenorm")


def test_resolve_mode():
    assert resolve_mode("auto", "cmd") == "none"
    assert resolve_mode("auto", "aimclr") == "none"
    for fmt in ("msr", "utd", "ucla", "stgcn", "ctrgcn", "pyskl", "pku", "ntu_raw"):
        assert resolve_mode("auto", fmt) == "prenorm", fmt
    assert resolve_mode("center", "cmd") == "center" and resolve_mode("none", "msr") == "none"
    with pytest.raises(ValueError, match="data.normalize") as err:
        resolve_mode("rotate", "msr")
    for mode in ("auto", "prenorm", "center", "none"):
        assert mode in str(err.value)


# -- body_frame -----------------------------------------------------------------------------
def _assert_rotations(r):
    assert r.shape[1:] == (3, 3)
    np.testing.assert_allclose(r @ r.transpose(0, 2, 1), np.broadcast_to(np.eye(3), r.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-9)


def test_body_frame_aligns_random_vectors():
    rng = np.random.default_rng(3)
    spine, shoulders = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    r = body_frame(spine, shoulders)
    _assert_rotations(r)
    s = np.einsum("nij,nj->ni", r, spine)
    np.testing.assert_allclose(s[:, :2], 0, atol=1e-9)
    np.testing.assert_allclose(s[:, 2], np.linalg.norm(spine, axis=1))
    h = np.einsum("nij,nj->ni", r, shoulders)
    np.testing.assert_allclose(h[:, 1], 0, atol=1e-9)
    assert (h[:, 0] > 0).all()


def test_body_frame_degenerate_inputs():
    e = np.eye(3)
    spine = np.array([[0, 0, 0], [0, 0, 0], [0, 2, 0], [1, 0, 0], [0, 0, 1], [0, 0, -1], [1, 1, 0], [0, 0, 0]], float)
    shoulders = np.array([[1, 0, 0], [0, 0, 0], [0, -3, 0], [2, 0, 0], [0, 0, 0], [0, 0, 5], [1, 0, 0], [0, 1, 0]],
                         float)
    r = body_frame(spine, shoulders)
    _assert_rotations(r)
    np.testing.assert_allclose(r[0], e, atol=1e-12)  # no spine, shoulders already on x
    np.testing.assert_allclose(r[1], e, atol=1e-12)  # nothing: identity
    for k in (2, 3, 4, 5, 6):  # spine still turned onto +z when the shoulders are unusable
        s = r[k] @ spine[k]
        np.testing.assert_allclose(s, [0, 0, np.linalg.norm(spine[k])], atol=1e-12)
    np.testing.assert_allclose(r[7] @ shoulders[7], [1, 0, 0], atol=1e-12)  # no spine: z kept, y -> x


# -- check_prenormalized ------------------------------------------------------------------------
def _cmd_like(centre_offset, rng, file_format="cmd", joint=1):
    x = rng.normal(scale=0.3, size=(6, 3, 10, 25, 2)).astype(np.float32)
    x[..., 1] = 0
    x[:, :, :, :, 0] += 0.5  # every other joint ~0.5 m away
    x[:, :, :, joint, 0] = rng.normal(scale=0.005, size=(6, 3, 10)) + np.reshape(centre_offset, (1, 3, 1))
    return SkeletonData(x, np.full(6, 10), np.arange(6), [f"s{i}" for i in range(6)],
                        source="/data/ntu60/xsub/train_data_joint.npy", file_format=file_format)


def test_check_prenormalized_warns_for_far_centre():
    data = _cmd_like([0.0, 0.5, 3.0], np.random.default_rng(0))
    with pytest.warns(UserWarning, match="data.normalize=prenorm") as caught:
        check_prenormalized(data, "cmd")
    message = str(caught[0].message)
    assert "/data/ntu60/xsub/train_data_joint.npy" in message and "6 of 6" in message


def test_check_prenormalized_quiet_for_centred_data():
    rng = np.random.default_rng(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_prenormalized(_cmd_like([0.02, 0.0, -0.01], rng), "cmd")
        check_prenormalized(_cmd_like([0.0, 0.0, 0.0], rng), "cmd")
        # only files taken as pre-normalised are checked
        check_prenormalized(_cmd_like([0.0, 0.5, 3.0], rng, "msr"), "msr")
        # AimCLR files are centred on spine at shoulders (joint 20): joint 1 may be anywhere
        check_prenormalized(_cmd_like([0.01, 0.0, 0.0], rng, "aimclr", joint=20), "aimclr")
    with pytest.warns(UserWarning, match="aimclr"):
        check_prenormalized(_cmd_like([0.0, 0.5, 3.0], rng, "aimclr", joint=20), "aimclr")


# -- load_data ----------------------------------------------------------------------------------
def _write_msr(directory, stem, frames):
    rows = np.concatenate([frames.reshape(-1, 3), np.ones((frames.shape[0] * 20, 1))], 1)
    np.savetxt(Path(directory) / f"{stem}_skeleton3D.txt", rows, fmt="%.6f")


def _config(path, *extra):
    return load_config(None, [f"data.path={path}", *extra]).data


def test_load_data_msr_auto_is_prenorm(tmp_path):
    rng = np.random.default_rng(7)
    for stem, t in (("a01_s01_e01", 5), ("a02_s03_e01", 3), ("a03_s02_e01", 4)):
        frames = rng.normal(scale=0.3, size=(t, 20, 3)) + [0.2, 0.1, 2.8]
        _write_msr(tmp_path, stem, frames)
    common = ["data.layout=msr20", "data.format=msr"]
    raw = load_data(_config(tmp_path, *common, "data.normalize=none"), "train")
    auto = load_data(_config(tmp_path, *common), "train")
    centre = load_data(_config(tmp_path, *common, "data.normalize=center"), "train")
    assert raw.normalization == "none" and auto.normalization == "prenorm"
    assert centre.normalization == "center" and auto.file_format == "msr"
    expected = normalize_skeletons(raw.data, raw.num_frames, MSR20, "prenorm")
    expected_centre = normalize_skeletons(raw.data, raw.num_frames, MSR20, "center")
    assert not np.allclose(expected, raw.data, atol=1e-2)
    for i in range(len(raw)):
        np.testing.assert_allclose(auto.sample(i), expected[i], atol=1e-6)
        np.testing.assert_allclose(centre.sample(i), expected_centre[i], atol=1e-6)
    assert auto.names == raw.names and (auto.labels == raw.labels).all()


def _write_cmd_folder(directory, rng, offset=(0.0, 0.5, 3.0)):
    for split, names in (("train", ["S001C001P001R001A001", "S001C001P003R001A002", "S001C002P001R002A003"]),
                         ("val", ["S001C001P002R001A001", "S001C003P004R001A002"])):
        n, t = len(names), 8
        x = rng.normal(scale=0.3, size=(n, 3, t, 25, 2)) + np.reshape(offset, (1, 3, 1, 1, 1))
        num_frames = np.array([8, 5, 3][:n])
        for i, nf in enumerate(num_frames):
            x[i, :, nf:] = 0
        x[0, :, :, :, 1] = 0  # one body only
        np.save(directory / f"{split}_data_joint.npy", x.astype(np.float32))
        np.save(directory / f"{split}_num_frame.npy", num_frames)
        with open(directory / f"{split}_label.pkl", "wb") as f:
            pickle.dump((names, list(range(n))), f)


def test_load_data_memmap_prenorm_per_sample_equals_whole_array(tmp_path):
    _write_cmd_folder(tmp_path, np.random.default_rng(11))
    data = load_data(_config(tmp_path, "data.normalize=prenorm"), "train")
    assert data.file_format == "cmd" and data.normalization == "prenorm"
    assert isinstance(data.data, np.memmap) and data.sample_normalizer is not None  # the lazy path
    raw = np.load(tmp_path / "train_data_joint.npy")
    np.testing.assert_array_equal(np.asarray(data.data), raw)  # the file is not changed
    expected = normalize_skeletons(raw, np.load(tmp_path / "train_num_frame.npy"), NTU25, "prenorm")
    assert not np.allclose(expected, raw, atol=1e-2)
    for i in range(len(data)):
        np.testing.assert_allclose(data.sample(i), expected[i], atol=1e-5)
    view = data.subset([2, 0])  # a split of the memory map keeps its normaliser
    np.testing.assert_allclose(view.sample(0), expected[2], atol=1e-5)
    np.testing.assert_allclose(view.sample(1), expected[0], atol=1e-5)


def test_load_data_cmd_auto_reads_as_stored_and_warns_when_not_centred(tmp_path):
    _write_cmd_folder(tmp_path, np.random.default_rng(12))
    with pytest.warns(UserWarning, match="data.normalize=prenorm") as caught:
        data = load_data(_config(tmp_path), "val")
    assert str(tmp_path) in str(caught[0].message)
    assert data.normalization == "none" and data.sample_normalizer is None
    raw = np.load(tmp_path / "val_data_joint.npy")
    np.testing.assert_array_equal(data.sample(1), raw[1])


def test_load_data_cmd_auto_quiet_when_centred(tmp_path):
    _write_cmd_folder(tmp_path, np.random.default_rng(13), offset=(0.0, 0.0, 0.0))
    for split in ("train", "val"):  # centre joint (spine mid) near the origin, as CMD files have it
        x = np.load(tmp_path / f"{split}_data_joint.npy")
        x[:, :, :, 1, 0] *= 0.01
        np.save(tmp_path / f"{split}_data_joint.npy", x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = load_data(_config(tmp_path), "train")
    assert data.normalization == "none"


def test_lazily_normalised_data_can_be_pickled(tmp_path):
    _write_cmd_folder(tmp_path, np.random.default_rng(14))
    data = load_data(_config(tmp_path, "data.normalize=prenorm"), "train")
    copy = pickle.loads(pickle.dumps(data))
    np.testing.assert_array_equal(copy.sample(1), data.sample(1))


def test_layouts_used_here_are_registered():
    assert [get_layout(layout.name) for layout in ALL_LAYOUTS] == ALL_LAYOUTS
