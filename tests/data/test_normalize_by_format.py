"""`data.normalize` / `data.layout` through `load_data` for every file format.

Each format gets a tiny dataset written to disk in its own file layout, with coordinates
the way a camera gives them: metres away from the origin ((0.3, 0.5, 3.0)) and each sample
turned by its own random rotation. `load_data` with `data.normalize=auto` and
`data.layout=auto` (and, except where noted, `data.format` unset so detection is used)
must resolve both settings in the config and apply what it resolved: CMD / HaLP and AimCLR
files are read as stored (they were pre-normalised when made; here they are not, so a
warning must say so), every other format is pre-normalised.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import warnings

import numpy as np
import pytest

from sslskel.data.build import load_data
from sslskel.data.layouts import get_layout
from sslskel.data.ntu_raw import write_ntu_skeleton
from sslskel.engine.config import ConfigError, load_config

OFFSET = np.array([0.3, 0.5, 3.0])  # where a Kinect sees a person: far from the origin
PRENORMALIZED = ("cmd", "aimclr")  # files taken as already pre-normalised under `auto`
RAW = ("stgcn", "ctrgcn", "pyskl", "ucla", "pku", "ntu_raw", "msr", "utd")
ALL_FORMATS = PRENORMALIZED + RAW
LAYOUT_OF = {"ucla": "ucla20", "msr": "msr20", "utd": "utd20"}  # the others: ntu25
# settings a format needs besides the path (raw NTU needs its official split named)
EXTRA = {"ntu_raw": ["data.benchmark=xsub"], "pku": ["data.benchmark=xsub"], "pyskl": ["data.benchmark=xsub"],
         "msr": ["data.benchmark=xsub"], "utd": ["data.benchmark=xsub"]}
NTU_TRAIN = ["S001C001P001R001A001", "S001C002P002R001A002", "S002C003P004R002A003"]  # xsub train subjects
NTU_VAL = ["S001C001P003R001A004"]  # subject 3: xsub test


# -- coordinates ---------------------------------------------------------------------------
def _rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _clip(rng, t, v, m, second_body=True):
    """(3, T, V, M) float32: a random pose that moves a little, turned by a random rotation
    and put ~3 m in front of the camera; body 2 (M = 2) beside it or absent (zeros)."""
    x = np.zeros((3, t, v, m))
    for b in range(m if second_body else 1):
        scale = 0.25 if b == 0 else 0.08  # body 1 moves more (raw NTU keeps bodies by energy)
        pose = rng.normal(scale=scale, size=(v, 3))
        motion = np.cumsum(rng.normal(scale=0.02, size=(t, v, 3)), axis=0)
        frames = (pose + motion) @ _rotation(rng).T + OFFSET + (0.8 * b, 0.0, 0.2 * b)
        x[:, :, :, b] = frames.transpose(2, 0, 1)
    return x.astype(np.float32)


def _dump_labels(path, names, labels):
    with open(path, "wb") as f:
        pickle.dump((list(names), [int(v) for v in labels]), f)


def _padded(clips, t_max=None):
    """Clips (3, T_i, V, M) -> one zero-padded (N, 3, T_max, V, M) array."""
    t_max = t_max or max(c.shape[1] for c in clips)
    out = np.zeros((len(clips), 3, t_max, *clips[0].shape[2:]), np.float32)
    for i, c in enumerate(clips):
        out[i, :, :c.shape[1]] = c
    return out


# -- one writer per format: (path to load, {sample name: stored (3, T_i, V, M) coordinates}) --
def _write_cmd(root, rng):
    clips = [_clip(rng, t, 25, 2, second_body=i != 1) for i, t in enumerate((12, 9, 6))]
    np.save(root / "train_data_joint.npy", _padded(clips))
    np.save(root / "train_num_frame.npy", np.array([c.shape[1] for c in clips]))
    _dump_labels(root / "train_label.pkl", NTU_TRAIN, range(3))
    return root, dict(zip(NTU_TRAIN, clips))


def _write_stgcn(root, rng):
    clips = [_clip(rng, t, 25, 2, second_body=i != 0) for i, t in enumerate((10, 14, 7))]
    np.save(root / "train_data.npy", _padded(clips, 16))
    _dump_labels(root / "train_label.pkl", NTU_TRAIN, range(3))
    return root, dict(zip(NTU_TRAIN, clips))


def _write_aimclr(root, rng):
    clips = [_clip(rng, t, 25, 2, second_body=i != 2) for i, t in enumerate((50, 31, 17))]
    np.save(root / "train_position.npy", _padded(clips, 50))
    _dump_labels(root / "train_label.pkl", NTU_TRAIN, range(3))
    return root, dict(zip(NTU_TRAIN, clips))


def _write_ctrgcn(root, rng):
    def flat(x):  # (N, 3, T, 25, 2) -> (N, T, 150): per frame body 1 25x3, then body 2
        return x.transpose(0, 2, 4, 3, 1).reshape(x.shape[0], x.shape[2], -1)

    clips = [_clip(rng, t, 25, 2, second_body=i != 1) for i, t in enumerate((11, 8, 5))]
    path = root / "NTU60_CS.npz"
    np.savez(path, x_train=flat(_padded(clips)), y_train=np.eye(3), x_test=flat(_padded(clips[:1])),
             y_test=np.eye(3)[:1])
    return path, {f"NTU60_CS_train_{i}": c for i, c in enumerate(clips)}


def _write_pyskl(root, rng):
    clips = [_clip(rng, t, 25, 2, second_body=i != 0) for i, t in enumerate((9, 13, 6))]
    # stored as float16: what is read back is the float16 value
    stored = [c.astype(np.float16).astype(np.float32) for c in clips]
    names = NTU_TRAIN + NTU_VAL
    keypoints = [c.transpose(3, 1, 2, 0).astype(np.float16) for c in clips]  # (M, T, 25, 3)
    keypoints[0] = keypoints[0][:1]  # a one-person annotation
    keypoints.append(_clip(rng, 4, 25, 1).transpose(3, 1, 2, 0).astype(np.float16))
    content = {"split": {"xsub_train": NTU_TRAIN, "xsub_val": NTU_VAL},
               "annotations": [{"frame_dir": n, "label": k, "keypoint": kp, "total_frames": kp.shape[1]}
                               for k, (n, kp) in enumerate(zip(names, keypoints))]}
    path = root / "ntu60_3danno.pkl"
    path.write_bytes(pickle.dumps(content))
    return path, dict(zip(NTU_TRAIN, stored))


def _write_ucla(root, rng):
    expected = {}
    for name, t in (("a01_s01_e00_v01", 7), ("a02_s02_e01_v02", 5), ("a03_s03_e00_v01", 9),
                    ("a04_s01_e00_v03", 6)):  # view 3 is the test split
        clip = _clip(rng, t, 20, 1)
        (root / f"{name}.json").write_text(json.dumps({"skeletons": clip[..., 0].transpose(1, 2, 0).tolist()}))
        if not name.endswith("v03"):
            expected[name] = clip
    return root, expected


def _write_pku(root, rng):
    (root / "skeleton").mkdir()
    (root / "label").mkdir()
    expected = {}
    intervals = {"0002-L": ((2, 10), (12, 25)), "0002-M": ((0, 6),), "0001-R": ((3, 8),)}
    for video, spans in intervals.items():
        clip = np.round(_clip(rng, 30, 25, 2, second_body=video != "0002-M").astype(np.float64), 4)
        rows = clip.transpose(1, 3, 2, 0).reshape(30, 150)  # per frame body 1 25x3, body 2 25x3
        np.savetxt(root / "skeleton" / f"{video}.txt", rows, fmt="%.4f")
        (root / "label" / f"{video}.txt").write_text("".join(f"{k + 1},{s},{e},1\n" for k, (s, e) in enumerate(spans)))
        for k, (s, e) in enumerate(spans):
            expected[f"{video}_{k:03d}"] = clip[:, s:e + 1].astype(np.float32)
    (root / "cross-subject.txt").write_text("Training videos:\n0002-L, 0002-M\nValidation videos:\n0001-R\n")
    del expected["0001-R_000"]
    return root, expected


def _write_ntu_raw(root, rng):
    expected = {}
    for i, (name, t) in enumerate(zip(NTU_TRAIN + NTU_VAL, (8, 5, 11, 4))):
        clip = _clip(rng, t, 25, 2, second_body=i == 0)
        frames = [[(f"7205759403793110{b}", clip[:, f, :, b].T) for b in range(2 if i == 0 else 1)]
                  for f in range(t)]
        write_ntu_skeleton(root / f"{name}.skeleton", frames)
        if name in NTU_TRAIN:
            expected[name] = clip
    return root, expected


def _write_msr(root, rng):
    expected = {}
    for stem, t in (("a01_s01_e01", 6), ("a02_s03_e01", 9), ("a05_s05_e02", 4), ("a01_s02_e01", 5)):
        clip = np.round(_clip(rng, t, 20, 1).astype(np.float64), 6)
        joints = clip[..., 0].transpose(1, 2, 0).reshape(-1, 3)  # (T * 20, 3), one joint a line
        np.savetxt(root / f"{stem}_skeleton3D.txt", np.concatenate([joints, np.ones((len(joints), 1))], 1),
                   fmt="%.6f")
        if int(stem.split("_")[1][1:]) % 2:  # odd subjects train
            expected[stem] = clip.astype(np.float32)
    return root, expected


def _write_utd(root, rng):
    from scipy.io import savemat

    expected = {}
    for stem, t in (("a1_s1_t1", 7), ("a3_s3_t2", 5), ("a27_s7_t4", 8), ("a2_s2_t1", 6)):
        clip = _clip(rng, t, 20, 1)
        savemat(str(root / f"{stem}_skeleton.mat"), {"d_skel": clip[..., 0].transpose(2, 0, 1).astype(np.float64)})
        if int(stem.split("_")[1][1:]) % 2:
            expected[stem] = clip
    return root, expected


WRITERS = {"cmd": _write_cmd, "stgcn": _write_stgcn, "aimclr": _write_aimclr, "ctrgcn": _write_ctrgcn,
           "pyskl": _write_pyskl, "ucla": _write_ucla, "pku": _write_pku, "ntu_raw": _write_ntu_raw,
           "msr": _write_msr, "utd": _write_utd}
SEEDS = {name: k for k, name in enumerate(WRITERS)}


@pytest.fixture
def dataset(tmp_path):
    def make(file_format):
        root = tmp_path / file_format
        root.mkdir()
        return WRITERS[file_format](root, np.random.default_rng(100 + SEEDS[file_format]))
    return make


def _data_cfg(path, file_format, *extra):
    return load_config(None, [f"data.path={path}", "data.layout=auto", "data.normalize=auto",
                              *EXTRA.get(file_format, []), *extra]).data


def _load_quietly(cfg, split="train"):
    """load_data, returning the data and the messages of the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_data(cfg, split)
    return data, [str(w.message) for w in caught]


def _frame0_vector(x, joints):
    """x[joints[0]] - x[joints[1]] in frame 0 of body 1 of a (3, T, V, M) sample."""
    return x[:, 0, joints[0], 0] - x[:, 0, joints[1], 0]


def _check_samples_match_writer(data, expected, file_format):
    assert sorted(data.names) == sorted(expected), file_format
    assert data.num_frames.tolist() == [expected[n].shape[1] for n in data.names]


# -- auto, per format ------------------------------------------------------------------------
@pytest.mark.parametrize("file_format", ALL_FORMATS)
def test_auto_resolves_layout_and_mode_from_the_files(dataset, file_format):
    path, expected = dataset(file_format)
    cfg = _data_cfg(path, file_format)
    assert cfg.format is None and (cfg.layout, cfg.normalize) == ("auto", "auto")
    before = copy.deepcopy(cfg)
    data, messages = _load_quietly(cfg)
    layout_name = LAYOUT_OF.get(file_format, "ntu25")
    mode = "none" if file_format in PRENORMALIZED else "prenorm"
    # the data carries what it is and what was applied; the config is only read
    assert data.file_format == file_format and data.layout == layout_name and data.normalization == mode
    assert cfg == before and (cfg.layout, cfg.normalize) == ("auto", "auto")
    _check_samples_match_writer(data, expected, file_format)
    warned = [m for m in messages if "data.normalize=prenorm" in m]
    if file_format in PRENORMALIZED:
        # the files are not centred although `auto` takes them as pre-normalised: say so
        assert len(warned) == 1 and file_format in warned[0] and str(path) in warned[0], messages
    else:
        assert not warned, messages


@pytest.mark.parametrize("file_format", PRENORMALIZED)
def test_prenormalized_formats_are_read_unchanged(dataset, file_format):
    path, expected = dataset(file_format)
    cfg = _data_cfg(path, file_format)
    with pytest.warns(UserWarning, match=r"data\.normalize=prenorm"):
        data = load_data(cfg, "train")
    assert data.normalization == "none" and data.sample_normalizer is None
    for i, name in enumerate(data.names):
        x = data.sample(i)
        nf = expected[name].shape[1]
        np.testing.assert_array_equal(x[:, :nf], expected[name])
        assert not x[:, nf:].any()  # the stored zero padding, not repeated frames
        centre = x[:, :nf, get_layout(data.layout).center, 0]
        assert np.linalg.norm(centre - OFFSET[:, None], axis=0).max() < 1.0  # still where the camera saw it


@pytest.mark.parametrize("file_format", RAW)
def test_raw_formats_are_prenormalized(dataset, file_format):
    path, expected = dataset(file_format)
    cfg = _data_cfg(path, file_format)
    data, _ = _load_quietly(cfg)
    layout = get_layout(data.layout)
    assert data.normalization == "prenorm"
    for i, name in enumerate(data.names):
        x, raw = data.sample(i), expected[name]
        nf = raw.shape[1]
        assert x.shape[2:] == (layout.num_joints, raw.shape[3])
        # body 1's centre joint is at the origin in every valid frame (it was ~3 m away)
        np.testing.assert_allclose(x[:, :nf, layout.center, 0], 0, atol=1e-5, err_msg=f"{file_format} {name}")
        # body 1's frame-0 spine points along +z, its shoulder line lies in xz towards +x
        spine = -_frame0_vector(x, layout.spine)
        np.testing.assert_allclose(spine[:2], 0, atol=1e-5, err_msg=f"{file_format} {name}")
        assert spine[2] > 0.01
        shoulders = _frame0_vector(x, layout.shoulders)
        assert abs(shoulders[1]) < 1e-5 and shoulders[0] > 0.01, (file_format, name, shoulders)
        # a rigid motion per sample: lengths within a frame and handedness are kept
        got = x[:, 0, :, 0].T
        want = raw[:, 0, :, 0].T.astype(np.float64)
        np.testing.assert_allclose(np.linalg.norm(got[:, None] - got[None], axis=-1),
                                   np.linalg.norm(want[:, None] - want[None], axis=-1), atol=1e-4)
        a, b = np.linalg.det(got[1:4] - got[0]), np.linalg.det(want[1:4] - want[0])
        assert np.sign(a) == np.sign(b) and abs(a - b) < 1e-4 * max(1.0, abs(b))


# -- explicit modes --------------------------------------------------------------------------
@pytest.mark.parametrize("file_format", RAW)
def test_explicit_none_gives_the_stored_coordinates(dataset, file_format):
    path, expected = dataset(file_format)
    cfg = _data_cfg(path, file_format, "data.normalize=none")
    data, messages = _load_quietly(cfg)
    assert data.normalization == "none" and data.layout == LAYOUT_OF.get(file_format, "ntu25")
    assert not [m for m in messages if "data.normalize" in m]  # only `auto` checks cmd / aimclr files
    _check_samples_match_writer(data, expected, file_format)
    for i, name in enumerate(data.names):
        nf = expected[name].shape[1]
        np.testing.assert_allclose(data.sample(i)[:, :nf], expected[name], atol=1e-6,
                                   err_msg=f"{file_format} {name}")


@pytest.mark.parametrize("file_format", ["stgcn", "ctrgcn", "ucla", "pku", "msr", "utd", "cmd"])
def test_explicit_center_moves_without_turning(dataset, file_format):
    path, expected = dataset(file_format)
    cfg = _data_cfg(path, file_format, "data.normalize=center")
    data, _ = _load_quietly(cfg)
    assert data.normalization == "center"
    layout = get_layout(data.layout)
    for i, name in enumerate(data.names):
        x, raw = data.sample(i), expected[name].astype(np.float64)
        nf = raw.shape[1]
        np.testing.assert_allclose(x[:, :nf, layout.center, 0], 0, atol=1e-5)
        # every present joint minus body 1's centre joint of its frame: no rotation
        present = (raw != 0).any(axis=0, keepdims=True)
        want = (raw - raw[:, :, layout.center:layout.center + 1, :1]) * present
        np.testing.assert_allclose(x[:, :nf], want, atol=1e-5, err_msg=f"{file_format} {name}")


@pytest.mark.parametrize("file_format", ["msr", "cmd"])
def test_unknown_mode_is_refused_listing_the_valid_ones(dataset, file_format):
    path, _ = dataset(file_format)
    # one check, two ways in: the config's start-up checks, and load_data given a data section
    # that never went through them
    with pytest.raises(ConfigError) as at_start:
        _data_cfg(path, file_format, "data.normalize=foo")
    with pytest.raises(ValueError) as at_load:
        load_data(dataclasses.replace(_data_cfg(path, file_format), normalize="foo"), "train")
    message = str(at_start.value)
    assert str(at_load.value) == message
    assert "data.normalize" in message and "'foo'" in message
    for mode in ("auto", "prenorm", "center", "none"):
        assert mode in message
