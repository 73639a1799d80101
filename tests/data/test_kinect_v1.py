"""MSR Action3D and UTD-MHAD readers (sslskel.data.kinect_v1), on synthetic files and,
when the development copy is there, on the real MSR Action3D skeletons."""

import warnings
from pathlib import Path

import numpy as np
import pytest

from sslskel.data.build import load_data
from sslskel.data.errors import DataFormatError
from sslskel.data.kinect_v1 import read_msr, read_utd
from sslskel.data.layouts import MSR20, UCLA20
from sslskel.data.readers import detect_format, load_split
from sslskel.engine.config import load_config

from support import MSR_DIR, needs_msr


# -- helpers --------------------------------------------------------------------------------
def _frames(rng, t):
    """(t, 20, 3) joints around 3 m in front of the camera, no coordinate exactly zero."""
    return np.round(rng.uniform(0.1, 1.0, size=(t, 20, 3)) + [0.0, 0.0, 2.5], 6)


def _write_msr(directory, stem, frames, confidence=1.0):
    """MSR Action3D file `<stem>_skeleton3D.txt`: one `x y z confidence` line per joint."""
    frames = np.asarray(frames, dtype=np.float64)
    rows = np.concatenate([frames.reshape(-1, 3), np.full((frames.shape[0] * 20, 1), confidence)], 1)
    path = Path(directory) / f"{stem}_skeleton3D.txt"
    np.savetxt(path, rows, fmt="%.6f")
    return path


def _write_utd(directory, stem, arr):
    from scipy.io import savemat

    path = Path(directory) / f"{stem}_skeleton.mat"
    savemat(str(path), {"d_skel": arr})
    return path


def _config(path, *extra):
    return load_config(None, [f"data.path={path}", *extra]).data


# -- real MSR Action3D ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def msr_train():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = read_msr(MSR_DIR, "train")
    return data, [str(w.message) for w in caught]


@needs_msr
def test_real_msr_train_split(msr_train):
    data, messages = msr_train
    assert len(data) == 291
    assert data.layout == "msr20"
    assert data.shape[0] == 3 and data.shape[2:] == (20, 1)
    assert data.num_classes == 20
    assert data.labels.min() == 0 and data.labels.max() == 19
    assert set(data.labels.tolist()) == set(range(20))
    assert set(data.meta["subject"].tolist()) == {1, 3, 5, 7, 9}
    # labels are action - 1, and the names carry the action / subject of the file
    actions = np.array([int(n[1:3]) for n in data.names])
    subjects = np.array([int(n[5:7]) for n in data.names])
    assert (data.labels == actions - 1).all() and (data.meta["subject"] == subjects).all()
    assert "a13_s09_e02" not in data.names
    assert any("a13_s09_e02" in m for m in messages), messages


@needs_msr
def test_real_msr_val_split():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the empty sequence is subject 9: no warning here
        data = read_msr(MSR_DIR, "val")
    assert len(data) == 275
    assert data.layout == "msr20" and data.shape[3] == 1
    assert set(data.meta["subject"].tolist()) == {2, 4, 6, 8, 10}
    assert set(data.labels.tolist()) == set(range(20))


@needs_msr
def test_real_msr_no_empty_frame_in_valid_range(msr_train):
    data, _ = msr_train
    for i in range(len(data)):
        x = data.data[i, :, : data.num_frames[i], :, 0]
        frame_empty = (x == 0).all(axis=(0, 2))
        assert not frame_empty.any(), (data.names[i], np.flatnonzero(frame_empty))
        # and the zero padding starts right after num_frames
        assert (data.data[i, :, data.num_frames[i]:] == 0).all()


def _median_bone_cv(data, edges):
    """Per edge: median over samples of std / mean of the bone's length over valid frames."""
    out = []
    for a, b in edges:
        cvs = []
        for i in range(len(data)):
            x = data.data[i, :, : data.num_frames[i], :, 0]
            length = np.linalg.norm(x[:, :, a] - x[:, :, b], axis=0)
            cvs.append(length.std() / length.mean())
        out.append(float(np.median(cvs)))
    return np.array(out)


@needs_msr
def test_real_msr_joint_order_keeps_bone_lengths(msr_train):
    data, _ = msr_train
    msr_cv = _median_bone_cv(data, MSR20.edges)
    assert (msr_cv < 0.1).all(), dict(zip(MSR20.edges, msr_cv.round(3)))
    # the Kinect SDK order (NW-UCLA) on the same data joins joints that are not bones
    ucla_cv = _median_bone_cv(data, UCLA20.edges)
    assert (ucla_cv > 0.2).sum() >= 3, dict(zip(UCLA20.edges, ucla_cv.round(3)))


@needs_msr
def test_real_msr_detected_and_prenormalized_via_config():
    assert detect_format(MSR_DIR, "train") == "msr"
    data = load_data(_config(MSR_DIR, "data.layout=msr20"), "val")  # format detected, normalize=auto
    assert data.file_format == "msr" and data.normalization == "prenorm" and len(data) == 275
    for i in range(0, len(data), 25):
        x = data.sample(i)[:, : data.num_frames[i], :, 0]  # (3, T, V)
        np.testing.assert_allclose(x[:, :, MSR20.center], 0, atol=1e-6)
        spine = x[:, 0, MSR20.spine[1]] - x[:, 0, MSR20.spine[0]]
        assert abs(spine[0]) < 1e-5 and abs(spine[1]) < 1e-5 and spine[2] > 0.05


# -- synthetic MSR files -------------------------------------------------------------------
def test_msr_values_split_and_labels(tmp_path, rng):
    seqs = {"a01_s01_e01": _frames(rng, 3), "a20_s03_e02": _frames(rng, 5),
            "a07_s02_e01": _frames(rng, 4), "a05_s10_e03": _frames(rng, 2)}
    for stem, frames in seqs.items():
        _write_msr(tmp_path, stem, frames)
    (tmp_path / "README.txt").write_text("not a sample\n")  # ignored: not named like one
    train = read_msr(tmp_path, "train")
    val = read_msr(tmp_path, "test")
    assert train.names == ["a01_s01_e01", "a20_s03_e02"]
    assert val.names == ["a05_s10_e03", "a07_s02_e01"]
    assert train.labels.tolist() == [0, 19] and val.labels.tolist() == [4, 6]
    assert train.num_classes == 20 and val.num_classes == 20
    assert train.meta["subject"].tolist() == [1, 3] and train.meta["replication"].tolist() == [1, 2]
    assert train.num_frames.tolist() == [3, 5] and val.num_frames.tolist() == [2, 4]
    assert train.data.shape == (2, 3, 5, 20, 1) and train.layout == "msr20"
    for data in (train, val):
        for i, name in enumerate(data.names):
            t = len(seqs[name])
            np.testing.assert_allclose(data.data[i, :, :t, :, 0], seqs[name].transpose(2, 0, 1), atol=1e-6)
            assert (data.data[i, :, t:] == 0).all()


@pytest.mark.parametrize("frames,line,text,fragment", [
    (1, 7, "0.1 0.2 0.3", "got 3"),  # a number missing
    (2, 25, "0.1 abc 0.3 1.0", "abc"),  # a non-numeric token
])
def test_msr_bad_line_is_named(tmp_path, rng, frames, line, text, fragment):
    path = _write_msr(tmp_path, "a01_s01_e01", _frames(rng, frames))
    lines = path.read_text().splitlines()
    lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=f"line {line}") as err:
        read_msr(tmp_path, "train")
    assert path.name in str(err.value) and fragment in str(err.value)


def test_msr_line_count_not_a_multiple_of_20(tmp_path, rng):
    path = _write_msr(tmp_path, "a01_s01_e01", _frames(rng, 2))
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:30]) + "\n")
    with pytest.raises(DataFormatError, match="lines") as err:
        read_msr(tmp_path, "train")
    assert path.name in str(err.value) and "30" in str(err.value)


def test_msr_all_zero_file_skipped_with_warning(tmp_path, rng):
    _write_msr(tmp_path, "a01_s01_e01", _frames(rng, 3))
    _write_msr(tmp_path, "a02_s03_e01", np.zeros((4, 20, 3)), confidence=0.0)
    with pytest.warns(UserWarning, match="a02_s03_e01"):
        data = read_msr(tmp_path, "train")
    assert data.names == ["a01_s01_e01"] and data.data.shape[2] == 3


def test_msr_only_empty_files_is_an_error(tmp_path):
    _write_msr(tmp_path, "a01_s01_e01", np.zeros((2, 20, 3)))
    with pytest.warns(UserWarning, match="a01_s01_e01"), pytest.raises(DataFormatError):
        read_msr(tmp_path, "train")


def test_msr_interior_zero_frames_dropped(tmp_path, rng):
    frames = _frames(rng, 6)
    frames[[0, 2, 5]] = 0  # leading, interior and trailing lost frames
    path = _write_msr(tmp_path, "a03_s05_e01", frames)
    # the confidence column is not read: a lost frame with confidence 1 is still lost
    assert "0.000000 0.000000 0.000000 1.000000" in path.read_text()
    data = read_msr(tmp_path, "train")
    assert data.num_frames.tolist() == [3]
    np.testing.assert_allclose(data.data[0, :, :, :, 0], frames[[1, 3, 4]].transpose(2, 0, 1), atol=1e-6)


def test_msr_frame_with_one_nonzero_joint_is_kept(tmp_path, rng):
    frames = _frames(rng, 3)
    frames[1] = 0
    frames[1, 7] = [0.5, 0.0, 0.0]
    _write_msr(tmp_path, "a03_s05_e01", frames)
    data = read_msr(tmp_path, "train")
    assert data.num_frames.tolist() == [3]
    assert data.data[0, 0, 1, 7, 0] == pytest.approx(0.5)


# -- UTD-MHAD ------------------------------------------------------------------------------
def test_utd_round_trip_split_and_labels(tmp_path, rng):
    arrays = {"a1_s1_t1": rng.normal(size=(20, 3, 5)), "a27_s3_t4": rng.normal(size=(20, 3, 2)),
              "a5_s2_t2": rng.normal(size=(20, 3, 4)), "a12_s8_t1": rng.normal(size=(20, 3, 1))}
    for stem, arr in arrays.items():
        _write_utd(tmp_path, stem, arr)
    train, val = read_utd(tmp_path, "train"), read_utd(tmp_path, "val")
    assert train.layout == "utd20" and val.layout == "utd20"
    assert train.names == ["a1_s1_t1", "a27_s3_t4"] and val.names == ["a12_s8_t1", "a5_s2_t2"]
    assert train.labels.tolist() == [0, 26] and val.labels.tolist() == [11, 4]
    assert train.num_classes == 27 and val.num_classes == 27
    assert train.meta["subject"].tolist() == [1, 3] and val.meta["subject"].tolist() == [8, 2]
    assert train.meta["replication"].tolist() == [1, 4]
    assert train.data.shape == (2, 3, 5, 20, 1) and val.data.shape == (2, 3, 4, 20, 1)
    for data in (train, val):
        for i, name in enumerate(data.names):
            arr = arrays[name]
            t = arr.shape[2]
            assert data.num_frames[i] == t
            np.testing.assert_array_equal(data.data[i, :, :t, :, 0], arr.transpose(1, 2, 0).astype(np.float32))
            assert (data.data[i, :, t:] == 0).all()


def test_utd_single_frame_saved_without_trailing_axis(tmp_path, rng):
    arr = rng.normal(size=(20, 3))  # MATLAB drops a trailing singleton axis
    _write_utd(tmp_path, "a2_s1_t1", arr)
    data = read_utd(tmp_path, "train")
    assert data.num_frames.tolist() == [1]
    np.testing.assert_array_equal(data.data[0, :, 0, :, 0], arr.T.astype(np.float32))


def test_utd_without_d_skel_names_the_variables(tmp_path):
    from scipy.io import savemat

    path = tmp_path / "a1_s1_t1_skeleton.mat"
    savemat(str(path), {"skeleton": np.ones((20, 3, 2)), "depth": np.ones(3)})
    with pytest.raises(DataFormatError, match="d_skel") as err:
        read_utd(tmp_path, "train")
    message = str(err.value)
    assert path.name in message and "skeleton" in message and "depth" in message


def test_utd_wrong_shape(tmp_path):
    path = _write_utd(tmp_path, "a1_s1_t1", np.ones((25, 3, 4)))
    with pytest.raises(DataFormatError, match=r"\(25, 3, 4\)") as err:
        read_utd(tmp_path, "train")
    assert path.name in str(err.value)


def test_utd_garbage_file(tmp_path):
    path = tmp_path / "a1_s1_t1_skeleton.mat"
    path.write_bytes(b"this is not a MATLAB file at all\n" * 10)
    with pytest.raises(DataFormatError) as err:
        read_utd(tmp_path, "train")
    assert path.name in str(err.value)


def test_utd_action_out_of_range(tmp_path, rng):
    _write_utd(tmp_path, "a28_s1_t1", rng.normal(size=(20, 3, 2)))
    with pytest.raises(DataFormatError, match="a28_s1_t1"):
        read_utd(tmp_path, "train")


# -- detection, load_split, config -----------------------------------------------------------
def test_detect_format_and_load_split(tmp_path, rng):
    msr, utd = tmp_path / "msr", tmp_path / "utd"
    msr.mkdir(), utd.mkdir()
    _write_msr(msr, "a01_s01_e01", _frames(rng, 2))
    _write_msr(msr, "a02_s02_e01", _frames(rng, 2))
    _write_utd(utd, "a1_s1_t1", rng.normal(size=(20, 3, 3)))
    _write_utd(utd, "a1_s2_t1", rng.normal(size=(20, 3, 3)))
    assert detect_format(msr, "train") == "msr"
    assert detect_format(utd, "val") == "utd"
    data = load_split(msr, "train")
    assert data.file_format == "msr" and data.layout == "msr20"
    data = load_split(utd, "val")
    assert data.file_format == "utd" and data.layout == "utd20"
    assert data.names == ["a1_s2_t1"]


def test_folder_of_other_text_files_is_not_msr(tmp_path):
    (tmp_path / "notes.txt").write_text("1 2 3 4\n")
    with pytest.raises(DataFormatError, match="file format"):
        detect_format(tmp_path, "train")


@pytest.mark.parametrize("fmt", ["msr", "utd"])
def test_xview_benchmark_rejected(tmp_path, rng, fmt):
    if fmt == "msr":
        _write_msr(tmp_path, "a01_s01_e01", _frames(rng, 2))
        layout = "msr20"
    else:
        _write_utd(tmp_path, "a1_s1_t1", rng.normal(size=(20, 3, 2)))
        layout = "utd20"
    # refused when the config is read (start-up checks) or, at the latest, when the data is
    with pytest.raises(ValueError, match="data.benchmark") as err:
        cfg = _config(tmp_path, f"data.layout={layout}", f"data.format={fmt}", "data.benchmark=xview")
        load_data(cfg, "train")
    assert "xview" in str(err.value)


def test_load_data_msr_layout_mismatch_is_reported(tmp_path, rng):
    _write_msr(tmp_path, "a01_s01_e01", _frames(rng, 2))
    cfg = _config(tmp_path, "data.layout=ucla20")  # the format knows its joint order
    with pytest.raises(ValueError, match="data.layout=msr20"):
        load_data(cfg, "train")
