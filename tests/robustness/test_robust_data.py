"""Hostile data files: every one is refused (or warned about) by `load_data` before the first
training step, with a message naming the file, the field and, where it applies, the sample.

Each case writes a small CMD / raw-NTU / NW-UCLA folder, spoils one thing, and loads it the
way every entry point does: `load_data(load_config(...).data, split)`.
"""

from __future__ import annotations

import os
import pickle
import stat
import warnings

import numpy as np
import pytest

from sslskel.data import checks
from sslskel.data.build import load_data
from sslskel.data.errors import DataFormatError
from sslskel.data.ntu_raw import write_ntu_skeleton
from sslskel.data.prepare import prepare_ntu, write_cmd_layout
from sslskel.engine.config import load_config
from sslskel.errors import UserError

from support import TINY_OVERRIDES, make_tiny_clips

FRAMES = 24


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def random_pose():
    """random_pose(rng) -> a (25, 3) float32 pose with no zero joint, 3 m from the camera."""
    return lambda rng: (rng.normal(scale=0.3, size=(25, 3)) + [0.0, 0.0, 3.0]).astype(np.float32)


def _cmd(root, n_train=12, n_val=6, splits=("train", "val")):
    """A tiny CMD folder; returns {split: (data, lengths, labels, names)} as written."""
    written = {}
    for split, n, seed in (("train", n_train, 0), ("val", n_val, 1)):
        if split in splits:
            clips = make_tiny_clips(n, 3, FRAMES, seed)
            write_cmd_layout(root, split, *clips[:1], num_frames=clips[1], labels=clips[2], names=clips[3])
            written[split] = clips
    return written


def _rewrite(root, split, data=None, num_frames=None, labels=None, names=None, like=None):
    """Replace some of a split's files with the given (spoilt) content, bypassing the writer."""
    if data is not None:
        np.save(root / f"{split}_data_joint.npy", data)
    if num_frames is not None:
        np.save(root / f"{split}_num_frame.npy", num_frames)
    if labels is not None or names is not None:
        with open(root / f"{split}_label.pkl", "wb") as f:
            pickle.dump((list(names if names is not None else like[3]),
                         [int(v) for v in (labels if labels is not None else like[2])]), f)


def _load(path, split, *extra):
    cfg = load_config(None, [f"data.path={path}", *TINY_OVERRIDES, "data.normalize=none", *extra])
    return load_data(cfg.data, split)


# -- labels ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [10**9, -1])
def test_implausible_class_id_is_refused_naming_file_index_and_value(tmp_path, bad):
    clips = _cmd(tmp_path)["train"]
    labels = list(clips[2])
    labels[5] = bad
    _rewrite(tmp_path, "train", labels=labels, like=clips)
    with pytest.raises(DataFormatError, match=rf"train_label\.pkl: labels\[5\] \({clips[3][5]}\): "
                                              rf"expected a 0-based class id in \[0, 1000\).*got {bad}$"):
        _load(tmp_path, "train")


def test_val_label_unseen_in_train_but_in_range_is_accepted(tmp_path):
    clips = _cmd(tmp_path)["val"]
    _rewrite(tmp_path, "val", labels=[7] * len(clips[2]), like=clips)
    assert set(_load(tmp_path, "val").labels.tolist()) == {7}


def test_dense_ids_beyond_the_generic_limit_are_accepted():
    labels = np.arange(2400) % 1200  # a 1200-class set: dense ids are plausible
    checks.check_class_ids(labels, "x.pkl")
    with pytest.raises(DataFormatError, match=r"x\.pkl: labels\[1\]: expected .*\[0, 1000\)"):
        checks.check_class_ids(np.array([0, 5000, 2]), "x.pkl")


def test_ntu_action_code_beyond_120_is_refused(tmp_path, rng, random_pose):
    write_ntu_skeleton(tmp_path / "S001C001P001R001A121.skeleton", [[("1", random_pose(rng))]])
    with pytest.raises(DataFormatError, match=r"file name: expected .*action code in \[1, 120\].*A121"):
        _load(tmp_path, "train", "data.format=ntu_raw")


# -- coordinates ------------------------------------------------------------------------------------
@pytest.mark.parametrize("split,value", [("train", np.inf), ("val", np.nan), ("val", -np.inf)])
def test_non_finite_coordinate_is_refused_at_load_in_either_split(tmp_path, split, value):
    clips = _cmd(tmp_path)[split]
    data = clips[0].copy()
    data[4, 2, 3, 7, 0] = value
    _rewrite(tmp_path, split, data=data)
    with pytest.raises(DataFormatError, match=rf"{split}_data_joint\.npy: sample 4 \({clips[3][4]}\): "
                                              rf"expected finite coordinates, got -?{value} at \(C, T, V, M\) = "
                                              r"\(2, 3, 7, 0\)"):
        _load(tmp_path, split)


def test_non_finite_found_in_a_late_chunk_of_a_memory_map(tmp_path, monkeypatch, capsys):
    n = 3 * checks.NUM_FRAMES_CHUNK - 10
    out = np.lib.format.open_memmap(tmp_path / "val_data_joint.npy", mode="w+", dtype=np.float32,
                                    shape=(n, 3, 4, 25, 1))
    out[:] = 1.0
    out[n - 3, 0, 1, 2, 0] = np.nan
    out.flush()
    del out
    np.save(tmp_path / "val_num_frame.npy", np.full(n, 4))
    names = [f"S001C001P001R001A{i % 3 + 1:03d}" for i in range(n)]
    _rewrite(tmp_path, "val", labels=np.arange(n) % 3, names=names)
    monkeypatch.setattr(checks, "PROGRESS_BYTES", 0)  # the bar of a big file, shown on a small one
    with pytest.raises(DataFormatError, match=rf"val_data_joint\.npy: sample {n - 3} .*got nan at "
                                              r"\(C, T, V, M\) = \(0, 1, 2, 0\)"):
        _load(tmp_path, "val")
    assert "checking val_data_joint.npy" in capsys.readouterr().err


def test_non_finite_in_memory_format_is_refused(tmp_path):
    clips = make_tiny_clips(4, 2, 8, 0)
    x = clips[0][:, :, :, :, 0].transpose(0, 2, 1, 3).reshape(4, 8, 75)  # (N, T, 25 x 3): one body
    x = np.concatenate([x, np.zeros_like(x)], axis=2)
    x[1, 3, 5] = np.inf
    y = np.eye(2)[clips[2]]
    np.savez_compressed(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # compressed: read into memory
        with pytest.raises(DataFormatError, match=r"d\.npz: sample 1 .*expected finite coordinates, got inf"):
            _load(tmp_path / "d.npz", "train")


# -- num_frames ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("value,shown", [(np.nan, "nan"), (7.5, "7.5"), (0, "0"), (FRAMES + 1, str(FRAMES + 1))])
def test_bad_num_frame_names_the_num_frame_file_and_sample(tmp_path, value, shown):
    clips = _cmd(tmp_path)["val"]
    frames = clips[1].astype(np.float64 if isinstance(value, float) else np.int64)
    frames[2] = value
    _rewrite(tmp_path, "val", num_frames=frames)
    with pytest.raises(DataFormatError, match=rf"val_num_frame\.npy: num_frame\[2\]: expected a whole number "
                                              rf"of frames in \[1, {FRAMES}\].*got {shown}$"):
        _load(tmp_path, "val")


def test_whole_float_num_frames_are_accepted(tmp_path):
    clips = _cmd(tmp_path)["val"]
    _rewrite(tmp_path, "val", num_frames=clips[1].astype(np.float32))
    assert _load(tmp_path, "val").num_frames.tolist() == clips[1].tolist()


# -- empty samples ------------------------------------------------------------------------------------
def test_all_zero_samples_are_counted_and_named(tmp_path):
    clips = _cmd(tmp_path)["train"]
    data = clips[0].copy()
    data[[3, 8]] = 0
    _rewrite(tmp_path, "train", data=data)
    with pytest.warns(UserWarning, match=rf"2 of 12 samples of the train split are all zero .*"
                                         rf"{clips[3][3]}, {clips[3][8]}"):
        assert len(_load(tmp_path, "train")) == 12


def _raw_ntu(directory, rng, random_pose):
    """Four raw files of the xsub train split (subject 1) and one with no body in any frame."""
    names = [f"S001C00{c}P001R001A00{a}" for c, a in ((1, 1), (2, 2), (3, 1), (1, 2))]
    for name in names:
        write_ntu_skeleton(directory / f"{name}.skeleton", [[("1", random_pose(rng))] for _ in range(3)])
    write_ntu_skeleton(directory / "S001C002P001R001A003.skeleton", [[], [], []])  # bodyCount 0 everywhere
    return names


def test_raw_ntu_file_with_no_body_is_skipped_with_a_warning(tmp_path, rng, random_pose):
    names = _raw_ntu(tmp_path, rng, random_pose)
    with pytest.warns(UserWarning, match=r"skipped 1 sequence\(s\) with no non-zero frame: "
                                         r"S001C002P001R001A003\.skeleton"):
        data = _load(tmp_path, "train", "data.format=ntu_raw")
    assert sorted(data.names) == sorted(names) and data.labels.max() == 1


def test_prepare_skips_a_raw_ntu_file_with_no_body(tmp_path, rng, random_pose):
    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    names = _raw_ntu(raw, rng, random_pose)
    write_ntu_skeleton(raw / "S001C001P003R001A001.skeleton", [[("1", random_pose(rng))]])  # a val sample
    with pytest.warns(UserWarning, match=r"S001C002P001R001A003\.skeleton"):
        counts = prepare_ntu(raw, out, "xsub", chunk=2)
    assert counts == {"train": 4, "val": 1}
    data = _load(out, "train")
    assert sorted(data.names) == sorted(names) and data.data.shape[0] == 4
    assert (data.num_frames == 3).all() and np.abs(data.data).reshape(4, -1).max(1).min() > 0


# -- corrupt and missing files --------------------------------------------------------------------------
def test_garbage_npy_is_called_not_an_npy_array(tmp_path):
    _cmd(tmp_path)
    (tmp_path / "train_data_joint.npy").write_bytes(b"this is not numpy" * 20)
    with pytest.raises(DataFormatError, match=r"train_data_joint\.npy: npy: expected a valid \.npy array") as err:
        _load(tmp_path, "train")
    assert "allow_pickle" not in str(err.value)


def test_truncated_npy_is_called_truncated(tmp_path):
    _cmd(tmp_path)
    path = tmp_path / "val_data_joint.npy"
    os.truncate(path, path.stat().st_size // 2)
    with pytest.raises(DataFormatError, match=r"val_data_joint\.npy: npy: expected \d+ bytes .*truncated"):
        _load(tmp_path, "val")


@pytest.mark.parametrize("content", [b"\x80\x04garbage", b"", b"\x00\x01\x02" * 10, "truncate"])
def test_corrupt_label_pickle_is_refused(tmp_path, content):
    _cmd(tmp_path)
    path = tmp_path / "train_label.pkl"
    if content == "truncate":
        os.truncate(path, path.stat().st_size - 7)
    else:
        path.write_bytes(content)
    with pytest.raises(DataFormatError, match=r"train_label\.pkl: pickle: expected a complete, valid pickle"):
        _load(tmp_path, "train")


@pytest.mark.parametrize("spoil,field", [("truncate", r"line \d+: .*truncated file"),
                                         ("garbage", r"line 1: expected the frame count")])
def test_corrupt_skeleton_file_is_refused_naming_it(tmp_path, rng, random_pose, spoil, field):
    _raw_ntu(tmp_path, rng, random_pose)
    path = tmp_path / "S001C002P001R001A002.skeleton"
    if spoil == "truncate":
        os.truncate(path, path.stat().st_size // 2)
    else:
        path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataFormatError, match=rf"S001C002P001R001A002\.skeleton: {field}"):
        _load(tmp_path, "train", "data.format=ntu_raw")


@pytest.mark.parametrize("content", [b'{"skeletons": [[[1, 2', bytes(range(256))])
def test_corrupt_json_is_refused_naming_it(tmp_path, content):
    (tmp_path / "a01_s01_e01_v01.json").write_bytes(content)
    with pytest.raises(DataFormatError, match=r"a01_s01_e01_v01\.json: json: expected a valid JSON file"):
        _load(tmp_path, "train", "data.layout=ucla20", "data.benchmark=xview")


def test_missing_val_file_names_it(tmp_path):
    _cmd(tmp_path, splits=("train",))
    with pytest.raises(DataFormatError, match=r"val_data_joint\.npy: file: expected the val split of the cmd "
                                              r"files beside train_data_joint\.npy, got not found; the folder "
                                              r"holds \[train_data_joint\.npy"):
        _load(tmp_path, "val")


def test_wrong_data_format_says_what_was_looked_for_and_found(tmp_path):
    _cmd(tmp_path)
    with pytest.raises(UserError, match=r"files: expected NW-UCLA files aAA_sSS_eEE_vVV\.json "
                                        r"\(data\.format=ucla\), got none; the folder holds \[train_data_joint"
                                        r".*look like data\.format=cmd"):
        _load(tmp_path, "train", "data.format=ucla", "data.layout=ucla20", "data.benchmark=xview")


# -- writers respect the umask ---------------------------------------------------------------------------
def test_data_writers_respect_the_umask(tmp_path, rng, random_pose):
    old = os.umask(0o027)
    try:
        _cmd(tmp_path / "cmd")
        raw = tmp_path / "raw"
        raw.mkdir()
        _raw_ntu(raw, rng, random_pose)
        write_ntu_skeleton(raw / "S001C001P003R001A001.skeleton", [[("1", random_pose(rng))]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prepare_ntu(raw, tmp_path / "prepared", "xsub")
    finally:
        os.umask(old)
    written = [*(tmp_path / "cmd").iterdir(), *raw.glob("*.skeleton"), *(tmp_path / "prepared").iterdir()]
    assert len(written) == 6 + 6 + 6
    assert {stat.S_IMODE(p.stat().st_mode) for p in written} == {0o640}
    assert not [p for p in tmp_path.rglob(".*.tmp")]
